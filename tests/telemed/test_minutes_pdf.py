"""The signed PDF of final minutes: rendered on the form, signed by the host facility, kept
with the case, downloadable by the readers of the minutes only, checked by `telemed minutes
verify` (one changed byte fails)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import factories
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from minutestools import PASSWORD, filled, sign, signing_world
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

from records.db import create_engine, session_maker
from records.migrate import upgrade
from records.models import Attachment, Minutes, Role, User
from records.services import auth as auth_svc
from records.signing import FacilityCertificates, check_pdf, make_demo_certificate
from telemed.app import create_app
from telemed.settings import Settings
from tests.conftest import drop_engine, make_engine, schema_url

Client = TestClient[web.Request, web.Application]


async def _telemed(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "telemed",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode()


async def _as_user(client: Client, engine: AsyncEngine, user: User) -> str:
    async with session_maker(engine)() as s:
        signed = await auth_svc.create_session(session=s, user=user)
    jar = client.session.cookie_jar
    jar.clear()
    jar.update_cookies({"telemed_session": signed.session_id}, client.make_url("/"))
    html = await (await client.get("/schedule")).text()
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """The PDF's text as poppler reads it (what a clerk's viewer shows)."""
    path = tmp_path / "read.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"])
async def test_signed_pdf_on_record_then_verified(db_kind: str, tmp_path: Path) -> None:
    raw, schema = await make_engine(db_kind, tmp_path)
    url = schema_url(schema) if schema else raw.url.render_as_string(hide_password=False)
    async with raw.begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all)
    # The command line wants a migrated database.
    await upgrade(url)
    engine = create_engine(url)
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, database_url=url)
    try:
        async with session_maker(engine)() as session:
            w = await signing_world(session)
            await filled(session, w)
            await sign(session, w.consultation.id, w.case.id, w.secretary)
            other = await factories.facility(session)
            outsider = await factories.user(session, facility=other, role=Role.doctor)
        make_demo_certificate(
            settings.cert_dir / f"{w.host.code}.p12",
            name=w.host.name,
            code=w.host.code,
            passphrase=None,
        )
        client: Client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        try:
            page = f"/consultations/{w.consultation.id}/minutes/{w.case.id}"
            csrf = await _as_user(client, engine, w.users["chair"])
            resp = await client.post(
                page,
                data={"csrf_token": csrf, "action": "confirm", "password": PASSWORD},
            )
            html = await resp.text()
            assert resp.status == 200 and "Đã hoàn tất biên bản" in html, html[:2000]
            assert "Tải biên bản PDF đã ký" in html
            resp = await client.get(page + "/pdf")
            assert resp.status == 200 and resp.content_type == "application/pdf"
            assert "bien-ban-hoi-chan-001-BB-HC" in resp.headers["Content-Disposition"]
            pdf = await resp.read()
            # Another facility's doctor learns nothing, not even that the file exists.
            await _as_user(client, engine, outsider)
            assert (await client.get(page + "/pdf")).status == 404
            assert (await client.get(page)).status == 404
        finally:
            await client.close()

        text = pdf_text(pdf, tmp_path)
        for part in (
            "BỘ Y TẾ",  # the default governing body, none being on record
            "BỆNH VIỆN ĐA KHOA TỈNH",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "Số: 1/BB-HC",
            "BIÊN BẢN HỘI CHẨN TỪ XA",
            "Dân tộc: Tày",
            "Số CCCD: 070170012345",
            "Số thẻ BHYT: DN4797912345678",
            "Khoa: Khoa Nội",
            "Có cần chụp mạch vành không?",
            "Trả lời 1",
            "Chuyển tuyến lúc nào?",
            "Trả lời 2",
            "I21.4, I10",
            "THƯ KÝ",
            "CHỦ TRÌ",
            w.users["chair"].display_name,
            w.users["secretary"].display_name,
        ):
            assert part in text, part
        assert "Đã ký điện tử lúc" in text
        check = await check_pdf(
            pdf, FacilityCertificates(settings.cert_dir).trust_roots(w.host.code)
        )
        assert check.ok, check
        async with session_maker(engine)() as session:
            kept = (
                (await session.execute(select(Minutes).where(Minutes.case_id == w.case.id)))
                .scalars()
                .one()
            )
            pdf_row = await session.get(Attachment, kept.pdf_attachment_id)
            # Kept with the case, hashed like any attachment.
            assert pdf_row is not None and pdf_row.case_id == w.case.id
            assert pdf_row.size == len(pdf) and pdf_row.sha256 == hashlib.sha256(pdf).hexdigest()

        good = tmp_path / "bien-ban.pdf"
        good.write_bytes(pdf)
        common = ("--data-dir", str(data_dir), "--database-url", url)
        code, out = await _telemed("minutes", "verify", str(good), *common)
        assert code == 0 and "HỢP LỆ" in out and "1/BB-HC" in out, out
        # One byte changed anywhere: not the file on record, and the signature breaks.
        bad = tmp_path / "sua.pdf"
        changed = bytearray(pdf)
        changed[len(changed) // 2] ^= 0x01
        bad.write_bytes(bytes(changed))
        code, out = await _telemed("minutes", "verify", str(bad), *common)
        assert code != 0 and "KHÔNG có trong hồ sơ" in out and "KHÔNG HỢP LỆ" in out, out
        code, out = await _telemed("minutes", "verify", str(tmp_path / "none.pdf"), *common)
        assert code != 0, out
    finally:
        await engine.dispose()
        await drop_engine(raw, schema)
