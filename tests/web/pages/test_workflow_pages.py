"""The workflow pages: the bell's live stream, the notification centre, urgency in the queue,
the case thread, invitations answered, and the account's notification choices."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import factories
import orjson
import pytest
import sqlalchemy as sa
from pagetools import Site, running_site
from sqlalchemy.ext.asyncio import AsyncEngine

from records.actor import Actor
from records.models import (
    Consultation,
    ConsultationRequest,
    ConsultationSchedule,
    Urgency,
    User,
    UserSession,
    utcnow,
)
from records.services import consultations, schedules
from web.keys import sessions_key


@pytest.fixture
async def site(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Site]:
    async with running_site(engine, tmp_path) as s:
        yield s


async def request(site: Site, urgency: Urgency, title: str) -> Consultation:
    """The district doctor asks the province about a new case of the given urgency."""
    async with site.sessions() as s:
        patient = await factories.patient(s, facility=site.district)
        case = await factories.case(s, patient=patient, author=site.users["doctor"], title=title)
        case.urgency = urgency
        s.add(case)
        await s.commit()
    async with site.client.app[sessions_key]() as s:
        return await consultations.request_consultation(
            session=s,
            actor=Actor.of(site.users["doctor"]),
            data=ConsultationRequest(
                title=title, case_ids=[case.id], host_facility_id=site.province.id
            ),
        )


async def next_event(stream: object) -> tuple[str, dict[str, object]]:
    """One Server-Sent Event: (name, data)."""
    raw = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 15)  # type: ignore[attr-defined]
    lines = dict(line.split(": ", 1) for line in raw.decode().strip().split("\n"))
    return lines["event"], orjson.loads(lines["data"])


async def test_an_emergency_reaches_the_open_page_and_the_bell(site: Site) -> None:
    await site.login("coordinator")
    stream = await site.client.get("/notifications/stream")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert await next_event(stream) == ("count", {"unread": 0})
    c = await request(site, Urgency.emergency, "Nhồi máu cơ tim cấp")
    name, data = await next_event(stream)
    assert name == "notification" and data["unread"] == 1 and data["emergency"] is True
    assert "CẤP CỨU" in str(data["text"]) and "Chơn Thành" in str(data["text"])
    stream.close()
    page = await site.page("/notifications")
    assert "CẤP CỨU" in page and 'id="bell-count">1<' in page
    nid = re.search(r'data-notification-id="([0-9a-f-]+)"', page).group(1)  # type: ignore[union-attr]
    status, _, location = await site.post(f"/notifications/{nid}/read", {})
    assert status == 303 and location == f"/consultations/{c.id}"
    assert 'id="bell-count" hidden>0<' in await site.page("/notifications")


async def test_the_stream_ends_with_the_session(site: Site) -> None:
    await site.login("coordinator")
    stream = await site.client.get("/notifications/stream")
    assert await next_event(stream) == ("count", {"unread": 0})
    # The session expires while the page is open (every session of the coordinator).
    async with site.sessions() as s:
        await s.execute(sa.update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        await s.commit()
    await request(site, Urgency.emergency, "Nhồi máu cơ tim cấp")
    assert await next_event(stream) == ("ended", {})
    assert await asyncio.wait_for(stream.content.read(), 15) == b""


async def test_the_queue_puts_emergencies_first_and_flags_the_late_ones(site: Site) -> None:
    routine = await request(site, Urgency.routine, "Theo dõi tăng huyết áp")
    late = await request(site, Urgency.emergency, "Xuất huyết tiêu hóa")
    async with site.sessions() as s:
        await s.execute(
            sa.update(Consultation)
            .where(Consultation.id == late.id)  # type: ignore[arg-type]
            .values(created_at=utcnow() - timedelta(minutes=45))
        )
        await s.commit()
    fresh = await request(site, Urgency.emergency, "Đột quỵ")
    await site.login("coordinator")
    # The coordinator's queue on the consultations page (and its full list), and on home.
    for path, lists in (("/consultations", 2), ("/", 1)):
        page = await site.page(path)
        order = [page.index(str(x.id)) for x in (late, fresh, routine)]
        assert order == sorted(order), path
        assert page.count('class="badge overdue-flag"') == lists
        assert page.count('class="badge urgency-emergency"') >= 2 * lists


async def test_the_thread_is_shared_with_the_people_of_the_case_only(site: Site) -> None:
    c = await request(site, Urgency.urgent, "Viêm phổi nặng")
    async with site.sessions() as s:
        case_id = (await consultations.case_ids(s, c.id))[0]
    start = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    async with site.client.app[sessions_key]() as s:
        await schedules.schedule(
            session=s,
            consultation_id=c.id,
            actor=Actor.of(site.users["coordinator"]),
            data=ConsultationSchedule(
                scheduled_start=start,
                scheduled_end=start + timedelta(hours=1),
                chair_id=site.users["coordinator"].id,
                invitees=[site.users["specialist"].id],
            ),
        )
    await site.login("specialist")
    status, _, location = await site.post(
        f"/cases/{case_id}/thread", {"text": "Đề nghị chụp CT ngực", "kind": "opinion"}
    )
    assert status == 303 and location is not None and "#msg-" in location
    # The invitation: declined with a reason, which the coordinator reads.
    status, _, _ = await site.post(f"/consultations/{c.id}/invitation", {"answer": "decline"})
    assert status == 303
    # Without a reason nothing is recorded: the page still asks.
    assert 'id="invitation-accept"' in await site.page(f"/consultations/{c.id}")
    await site.post(f"/consultations/{c.id}/invitation", {"answer": "decline", "reason": "Bận mổ"})
    site.client.session.cookie_jar.clear()
    await site.login("doctor")
    page = await site.page(f"/cases/{case_id}/thread")
    assert "Đề nghị chụp CT ngực" in page and "Ý kiến chuyên môn" in page
    site.client.session.cookie_jar.clear()
    await site.login("coordinator")
    detail = await site.page(f"/consultations/{c.id}")
    assert 'data-response="declined"' in detail and "Bận mổ" in detail
    site.client.session.cookie_jar.clear()
    await site.login("stranger")
    await site.page(f"/cases/{case_id}/thread", status=404)
    status, _, _ = await site.post(f"/cases/{case_id}/thread", {"text": "Chen vào"})
    assert status == 404


async def test_the_account_saves_the_notification_choices(site: Site) -> None:
    user: User = await site.login("specialist")
    page = await site.page("/account")
    assert 'name="email_invited" checked' in page and 'name="email_thread">' in page
    status, _, _ = await site.post(
        "/account/notifications", {"email_thread": "on", "language": "en"}
    )
    assert status == 303
    page = await site.page("/account")
    assert 'name="email_thread" checked' in page and 'name="email_invited">' in page
    assert '<option value="en" selected>' in page
    async with site.sessions() as s:
        saved = await s.get(User, user.id)
        assert saved is not None and saved.language == "en"
