"""Download names: the extension follows the bytes, and no character hides what a file is."""

from __future__ import annotations

import io
import uuid

import aiohttp
import sqlalchemy as sa
from apitools import Api
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine

from records.db import session_maker
from records.models import Attachment

TEXT = b"Glucose 5.6 mmol/L\nHbA1c 7.2 %\n"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


async def _upload(api: Api, case_id: str, filename: str, content: bytes) -> dict[str, str]:
    data = aiohttp.FormData()
    data.add_field("kind", "lab" if content is TEXT else "photo")
    data.add_field("file", content, filename=filename, content_type="application/octet-stream")
    created = await api.ok("POST", f"/api/v1/cases/{case_id}/attachments", 201, data=data)
    item: dict[str, str] = created["items"][0]
    return item


def _served_name(disposition: str) -> tuple[str, str]:
    """The plain and the RFC 5987 name of an attachment's Content-Disposition."""
    assert disposition.startswith("attachment;"), disposition
    plain = disposition.split('filename="', 1)[1].split('"', 1)[0]
    extended = disposition.split("filename*=UTF-8''", 1)[1]
    return plain, extended


async def test_the_extension_is_that_of_the_bytes(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    expected = {
        "ket-qua.js": "ket-qua.txt",
        "ket-qua.bat": "ket-qua.txt",
        "ket-qua.hta": "ket-qua.txt",
        "ket-qua.html": "ket-qua.txt",
        "KET-QUA.TXT": "KET-QUA.TXT",
        "ket-qua": "ket-qua.txt",
        "anh-phim-\u202egpj.js": "anh-phim-gpj.txt",
        "a\u2066b\u200bc\u061c.txt": "abc.txt",
    }
    for sent, kept in expected.items():
        item = await _upload(api, case["id"], sent, TEXT)
        assert item["filename"] == kept, (sent, item["filename"])
        reply = await api.get(f"/api/v1/attachments/{item['id']}")
        assert reply.status == 200 and reply.body == TEXT
        assert reply.headers["Content-Type"].startswith("text/plain")
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        plain, extended = _served_name(reply.headers["Content-Disposition"])
        assert plain == kept and extended == kept, reply.headers["Content-Disposition"]
    photo = await _upload(api, case["id"], "Ảnh tổn thương.exe", _jpeg())
    assert photo["filename"] == "Ảnh tổn thương.jpg"
    reply = await api.get(f"/api/v1/attachments/{photo['id']}")
    plain, extended = _served_name(reply.headers["Content-Disposition"])
    assert plain == "_nh t_n th__ng.jpg"
    assert extended == "%E1%BA%A2nh%20t%E1%BB%95n%20th%C6%B0%C6%A1ng.jpg"
    assert (await _upload(api, case["id"], "chup.JPEG", _jpeg()))["filename"] == "chup.JPEG"


async def test_names_stored_before_the_fix_are_served_clean(api: Api, engine: AsyncEngine) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    item = await _upload(api, case["id"], "ket-qua.txt", TEXT)
    async with session_maker(engine)() as session:
        await session.execute(
            sa.update(Attachment)
            .where(Attachment.id == uuid.UUID(item["id"]))  # type: ignore[arg-type]
            .values(filename='anh-phim-\u202egpj.hta";x=".js')
        )
        await session.commit()
    reply = await api.get(f"/api/v1/attachments/{item['id']}")
    plain, extended = _served_name(reply.headers["Content-Disposition"])
    assert plain == "anh-phim-gpj.hta__x=_.txt", plain
    assert "\u202e" not in reply.headers["Content-Disposition"]
    assert extended.endswith(".txt") and "%E2%80%AE" not in extended and "%22" not in extended
