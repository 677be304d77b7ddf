"""E-mail notifications through a real SMTP server in the test process (aiosmtpd): in the
recipient's language, with a link, without a patient's name; and with the SMTP server down,
requests still succeed and the e-mails go out once it is back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import factories
from aiohttp.test_utils import TestServer
from dbtools import sqlite_database
from mailtools import Inbox, free_port, smtp_server
from sqlmodel import select

import records.models  # noqa: F401  (registers every table)
from records import passwords
from records.db import session_maker
from records.models import EmailOutbox, FacilityLevel, Role, User, utcnow
from telemed.app import create_app
from telemed.settings import Settings
from web.keys import sessions_key

PASSWORD = "Thư điện tử hội chẩn 2026"
PATIENT = "Nguyễn Thị Lan"


@dataclass
class Site:
    """The application with its people, and an HTTP client."""

    server: TestServer
    http: aiohttp.ClientSession
    people: dict[str, User]
    case_id: str
    host_id: str

    async def as_(self, who: str) -> dict[str, str]:
        """Bearer headers for one of the people."""
        resp = await self.http.post(
            self.server.make_url("/api/v1/tokens"),
            json={"username": self.people[who].username, "password": PASSWORD},
        )
        assert resp.status == 201, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['token']}"}


@contextlib.asynccontextmanager
async def site(tmp_path: Path, smtp_port: int) -> AsyncIterator[Site]:
    url, engine = await sqlite_database(tmp_path)
    hashed = passwords.hash_password(PASSWORD)
    async with session_maker(engine)() as s:
        prov = await factories.facility(s, level=FacilityLevel.provincial)
        dist = await factories.facility(s, parent=prov, name="Trung tâm Y tế huyện Chơn Thành")
        people = {
            "doctor": await factories.user(s, facility=dist),
            "coordinator": await factories.user(s, facility=prov, role=Role.coordinator),
            "specialist": await factories.user(s, facility=prov, role=Role.specialist),
            "english": await factories.user(s, facility=prov, role=Role.specialist),
        }
        for name, u in people.items():
            u.password_hash = hashed
            u.email = f"{name}@benhvien.vn"
            u.language = "en" if name == "english" else None
            s.add(u)
        await s.commit()
        patient = await factories.patient(s, facility=dist, full_name=PATIENT)
        case = await factories.case(s, patient=patient, author=people["doctor"])
    await engine.dispose()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        secret_key="mail-tests-0123456789abcdef0123456789",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_from="hoichan@benhvien.vn",
        smtp_security="none",
        smtp_timeout_seconds=2.0,
        mail_retry_seconds=0.2,
        public_url="https://hoichan.example.vn",
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Site(server, http, people, str(case.id), str(prov.id))
    finally:
        await server.close()


async def request_and_schedule(s: Site) -> str:
    """The doctor asks, the coordinator schedules with two specialists; both answers fast."""
    doctor, coordinator = await s.as_("doctor"), await s.as_("coordinator")
    resp = await s.http.post(
        s.server.make_url("/api/v1/consultations"),
        headers=doctor,
        json={
            "title": f"Hội chẩn: {PATIENT}",
            "case_ids": [s.case_id],
            "host_facility_id": s.host_id,
        },
    )
    assert resp.status == 201, await resp.text()
    cid = (await resp.json())["id"]
    start = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    resp = await s.http.post(
        s.server.make_url(f"/api/v1/consultations/{cid}/schedule"),
        headers=coordinator,
        json={
            "scheduled_start": start.isoformat(),
            "scheduled_end": (start + timedelta(hours=1)).isoformat(),
            "chair_id": str(s.people["coordinator"].id),
            "invitees": [str(s.people["specialist"].id), str(s.people["english"].id)],
        },
    )
    assert resp.status == 200, await resp.text()
    return str(cid)


async def wait_for(inbox: Inbox, count: int) -> list[EmailMessage]:
    """Wait until the SMTP server has `count` messages (bounded)."""

    async def arrived() -> None:
        while len(inbox.messages) < count:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(arrived(), 30)
    return inbox.messages


def by_recipient(messages: list[EmailMessage]) -> dict[str, EmailMessage]:
    """The messages by their To address."""
    return {str(m["To"]): m for m in messages}


async def test_scheduling_sends_emails_in_each_language_without_the_patient(tmp_path: Path) -> None:
    port = free_port()
    with smtp_server(port) as inbox:
        async with site(tmp_path, port) as s:
            cid = await request_and_schedule(s)
            # The request (to the coordinator) and two invitations (scheduled: to the doctor).
            mails = by_recipient(await wait_for(inbox, 4))
    assert set(mails) == {
        f"{n}@benhvien.vn" for n in ("coordinator", "specialist", "english", "doctor")
    }
    ref = "HC-" + cid.replace("-", "")[:8].upper()
    invited = mails["specialist@benhvien.vn"]
    body = invited.get_content()
    assert "Bạn được mời tham gia phiên hội chẩn" in str(invited["Subject"])
    assert ref in body and "Trung tâm Y tế huyện Chơn Thành" in body
    assert f"https://hoichan.example.vn/consultations/{cid}" in body
    english = mails["english@benhvien.vn"]
    assert "You are invited to consultation" in str(english["Subject"])
    assert "Open in the application" in english.get_content()
    for message in mails.values():
        text = str(message["Subject"]) + message.get_content()
        assert PATIENT not in text and "Hội chẩn:" not in text
        assert message["From"] == "hoichan@benhvien.vn"


async def test_with_smtp_down_requests_succeed_and_mail_goes_out_later(tmp_path: Path) -> None:
    port = free_port()
    async with site(tmp_path, port) as s:
        await request_and_schedule(s)

        async def failed_once() -> None:
            while True:
                async with s.server.app[sessions_key]() as db:
                    rows = (await db.execute(select(EmailOutbox))).scalars().all()
                if len(rows) == 4 and all(r.attempts >= 1 and r.sent_at is None for r in rows):
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(failed_once(), 30)
        with smtp_server(port) as inbox:
            mails = by_recipient(await wait_for(inbox, 4))

            async def all_sent() -> None:
                while True:
                    async with s.server.app[sessions_key]() as db:
                        rows = (await db.execute(select(EmailOutbox))).scalars().all()
                    if all(r.sent_at is not None and r.last_error == "" for r in rows):
                        return
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(all_sent(), 30)
        assert len(mails) == 4 and len(inbox.messages) == 4
