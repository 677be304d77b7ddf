"""Consultation pages: request, inbox, scheduling with conflicts, detail, agenda, calendar file."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import factories
import icalendar
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from records.db import session_maker
from records.localtime import LOCAL_TZ as HCM
from records.models import (
    Case,
    Consultation,
    ConsultationStatus,
    Facility,
    FacilityLevel,
    ParticipantRole,
    Role,
    User,
)
from records.services import auth as auth_svc
from telemed.app import create_app
from telemed.settings import Settings

Client = TestClient[web.Request, web.Application]
PATIENT_NAME = "Hoàng Thị Mai"


async def app_database_url(engine: AsyncEngine) -> str:
    """The URL the application must use to reach the test's own database (and schema)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            path = (await conn.execute(text("SHOW search_path"))).scalar_one()
        url = url.update_query_dict({"search_path": str(path)})
    return url.render_as_string(hide_password=False)


@dataclass
class World:
    """The real application with two district centres under a provincial hospital."""

    client: Client
    engine: AsyncEngine
    province: Facility
    district: Facility
    doctor: User
    coordinator: User
    specialist: User
    outsider_specialist: User
    stranger: User
    case: Case
    case2: Case

    async def as_user(self, user: User) -> str:
        """Switch the browser to a fresh session of this user; returns its CSRF token."""
        async with session_maker(self.engine)() as s:
            signed = await auth_svc.create_session(session=s, user=user)
        jar = self.client.session.cookie_jar
        jar.clear()
        jar.update_cookies({"telemed_session": signed.session_id}, self.client.make_url("/"))
        html = await (await self.client.get("/schedule")).text()
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
        assert found is not None, html[:500]
        return found.group(1)

    async def post(
        self, path: str, csrf: str, data: list[tuple[str, str]] | dict[str, str]
    ) -> Any:
        """Post a form as the browser does, with the CSRF field."""
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        return await self.client.post(path, data=[("csrf_token", csrf), *fields])


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[World]:
    """Facilities, people and one draft case; the app runs on the test database."""
    async with session_maker(engine)() as s:
        province = await factories.facility(
            s, level=FacilityLevel.provincial, name="Bệnh viện Đa khoa tỉnh Bình Phước"
        )
        district = await factories.facility(s, parent=province, name="TTYT Chơn Thành")
        other = await factories.facility(s, parent=province, name="TTYT Phước Long")
        central = await factories.facility(s, level=FacilityLevel.central, name="BV Chợ Rẫy")
        doctor = await factories.user(s, facility=district, full_name="Lê Văn Tâm")
        coordinator = await factories.user(
            s, facility=province, role=Role.coordinator, full_name="Phạm Thu Hà", title="CN."
        )
        specialist = await factories.user(
            s, facility=province, role=Role.specialist, full_name="Trần Minh Đức",
            specialty="Tim mạch",
        )
        specialist.email = "duc@bvbinhphuoc.vn"
        s.add(specialist)
        outsider = await factories.user(
            s, facility=central, role=Role.specialist, full_name="Võ Thanh Nhàn",
            specialty="Thần kinh",
        )
        stranger = await factories.user(s, facility=other, full_name="Đỗ Quang Vinh")
        await s.commit()
        patient = await factories.patient(s, facility=district, full_name=PATIENT_NAME)
        case = await factories.case(s, patient=patient, author=doctor, title="Suy tim mạn NYHA III")
        case2 = await factories.case(s, patient=patient, author=doctor, title="Rung nhĩ mới phát")
        for obj in (
            province, district, doctor, coordinator, specialist, outsider, stranger, case, case2
        ):
            await s.refresh(obj)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, database_url=await app_database_url(engine))
    client: Client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield World(
            client, engine, province, district, doctor, coordinator, specialist, outsider,
            stranger, case, case2,
        )
    finally:
        await client.close()


def next_weekday(weekday: int) -> date:
    """A date in the future on the given weekday (0 = Monday), at least two days ahead."""
    day = datetime.now(HCM).date() + timedelta(days=2)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


async def request_consultation(
    w: World, title: str = "Hội chẩn suy tim", case: Case | None = None
) -> str:
    """The doctor sends a request through the form; returns the consultation id."""
    csrf = await w.as_user(w.doctor)
    resp = await w.post(
        "/consultations/new",
        csrf,
        {
            "title": title,
            "host_facility_id": str(w.province.id),
            "case_ids": str((case or w.case).id),
            "note": "Xin hội chẩn gấp",
            "preferred_date": "",
            "preferred_time": "",
        },
    )
    assert resp.status == 200, await resp.text()
    assert "Đã gửi yêu cầu hội chẩn" in await resp.text()
    found = re.search(r"/consultations/([0-9a-f-]{36})$", resp.url.path)
    assert found is not None, resp.url
    return found.group(1)


def schedule_form(
    w: World, day: date, at: str, minutes: int = 90, invitees: list[User] | None = None
) -> list[tuple[str, str]]:
    """The fields of the scheduling form."""
    fields = [
        ("date", day.isoformat()),
        ("time", at),
        ("duration", str(minutes)),
        ("chair_id", str(w.coordinator.id)),
        ("requires_admission", "1"),
        ("action", "save"),
    ]
    fields += [("invitees", str(u.id)) for u in invitees or []]
    return fields


def parse_event(body: bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    """The calendar and its single event."""
    cal = icalendar.Calendar.from_ical(body)
    events = [e for e in cal.walk("VEVENT") if isinstance(e, icalendar.Event)]
    assert len(events) == 1
    return cal, events[0]


async def test_request_accept_schedule_detail_and_calendar(world: World) -> None:
    w = world
    csrf = await w.as_user(w.doctor)
    form = await w.client.get(f"/consultations/new?case_id={w.case.id}")
    html = await form.text()
    assert form.status == 200
    assert "Suy tim mạn NYHA III" in html and "Bệnh viện Đa khoa tỉnh Bình Phước" in html
    # A facility on the same level is not offered.
    assert "TTYT Phước Long" not in html
    del csrf

    cid = await request_consultation(w)
    detail = await (await w.client.get(f"/consultations/{cid}")).text()
    assert "Chờ xếp lịch" in detail and "Xin hội chẩn gấp" in detail
    # Not scheduled yet: no calendar to offer.
    assert "calendar.ics" not in detail

    csrf = await w.as_user(w.coordinator)
    inbox = await (await w.client.get("/consultations")).text()
    assert "Yêu cầu chờ xếp lịch" in inbox and "Hội chẩn suy tim" in inbox
    assert f"/consultations/{cid}/schedule" in inbox

    page = await w.client.get(f"/consultations/{cid}/schedule")
    assert page.status == 200
    # Searching people keeps the form and finds by specialty, across facilities.
    day = next_weekday(2)
    search = await w.post(
        f"/consultations/{cid}/schedule",
        csrf,
        [*schedule_form(w, day, "09:00")[:-1], ("action", "search"), ("q", ""),
         ("specialty", "than kinh")],
    )
    found = await search.text()
    assert search.status == 200
    assert "Võ Thanh Nhàn" in found
    assert f'name="invitees" value="{w.outsider_specialist.id}"' in found
    assert f'name="invitees" value="{w.specialist.id}"' not in found
    assert f'value="{day.isoformat()}"' in found

    resp = await w.post(
        f"/consultations/{cid}/schedule", csrf, schedule_form(w, day, "09:00", 90, [w.specialist])
    )
    assert resp.status == 200, await resp.text()
    assert resp.url.path == f"/consultations/{cid}"
    page_text = await resp.text()
    assert "Đã lên lịch" in page_text and "Trần Minh Đức" in page_text
    assert "09:00–10:30" in page_text

    ics = await w.client.get(f"/consultations/{cid}/calendar.ics")
    assert ics.status == 200
    assert ics.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in ics.headers["Content-Disposition"]
    cal, event = parse_event(await ics.read())
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Ho_Chi_Minh"]
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert str(start.tzinfo) == "Asia/Ho_Chi_Minh"
    assert event["DTSTART"].params["TZID"] == "Asia/Ho_Chi_Minh"
    assert (start.date(), start.hour, start.minute) == (day, 9, 0)
    assert end - start == timedelta(minutes=90)
    assert start.astimezone(UTC).hour == 2
    assert str(event["UID"]) == f"consultation-{cid}@telemed"
    assert int(str(event["SEQUENCE"])) == 0
    summary = str(event["SUMMARY"])
    assert "Bệnh viện Đa khoa tỉnh Bình Phước" in summary
    body = (await ics.read()).decode()
    assert PATIENT_NAME not in body and "Suy tim" not in body
    assert "mailto:duc@bvbinhphuoc.vn" in body

    # Moving the session keeps the UID and bumps the sequence.
    resp = await w.post(
        f"/consultations/{cid}/schedule", csrf, schedule_form(w, day, "10:00", 60, [w.specialist])
    )
    assert resp.status == 200
    _, moved = parse_event(await (await w.client.get(f"/consultations/{cid}/calendar.ics")).read())
    assert str(moved["UID"]) == f"consultation-{cid}@telemed"
    assert int(str(moved["SEQUENCE"])) == 1
    assert moved.decoded("DTSTART").hour == 10

    # The week agenda shows it on its day; the invited specialist sees it too.
    await w.as_user(w.specialist)
    agenda = await w.client.get(f"/schedule?week={day.isoformat()}")
    text = await agenda.text()
    assert agenda.status == 200
    assert "Hội chẩn suy tim" in text and "10:00–11:00" in text and "Thứ Tư" in text
    assert day.strftime("%d/%m/%Y") in text
    other_week = await (await w.client.get(f"/schedule?week={(day + timedelta(days=7))}")).text()
    assert "Hội chẩn suy tim" not in other_week


async def test_conflicts_are_shown_and_need_confirmation(world: World) -> None:
    w = world
    day = next_weekday(3)
    busy_from = datetime.combine(day, datetime.min.time(), tzinfo=HCM) + timedelta(hours=9)
    async with session_maker(w.engine)() as s:
        other = await factories.consultation(
            s, host=w.province, requesting=w.district, chair=w.coordinator,
            participants={w.specialist.id: ParticipantRole.specialist}, title="Phiên sáng thứ Năm",
        )
        other.scheduled_start = busy_from
        other.scheduled_end = busy_from + timedelta(hours=1)
        s.add(other)
        await s.commit()
    cid = await request_consultation(w)
    csrf = await w.as_user(w.coordinator)
    fields = schedule_form(w, day, "09:30", 60, [w.specialist])
    resp = await w.post(f"/consultations/{cid}/schedule", csrf, fields)
    html = await resp.text()
    assert resp.status == 200 and resp.url.path.endswith("/schedule")
    assert "Trùng lịch" in html and "Phiên sáng thứ Năm" in html
    assert 'name="confirm_conflicts"' in html
    # Nothing was saved yet.
    assert "Chờ xếp lịch" in await (await w.client.get(f"/consultations/{cid}")).text()

    resp = await w.post(
        f"/consultations/{cid}/schedule", csrf, [*fields, ("confirm_conflicts", "1")]
    )
    assert resp.status == 200 and resp.url.path == f"/consultations/{cid}"
    detail = await resp.text()
    assert "Đã lên lịch" in detail and "Trùng lịch" in detail

    # A free slot goes straight through.
    cid2 = await request_consultation(w, "Hội chẩn buổi chiều", w.case2)
    csrf = await w.as_user(w.coordinator)
    resp = await w.post(
        f"/consultations/{cid2}/schedule", csrf, schedule_form(w, day, "15:00", 60, [w.specialist])
    )
    assert resp.url.path == f"/consultations/{cid2}"


async def test_form_errors_keep_what_was_typed(world: World) -> None:
    w = world
    csrf = await w.as_user(w.doctor)
    resp = await w.post(
        "/consultations/new",
        csrf,
        {"title": "Hội chẩn X", "host_facility_id": str(w.province.id), "note": "Ghi chú giữ lại",
         "preferred_date": "31/02/2026", "preferred_time": "25:00"},
    )
    html = await resp.text()
    assert resp.status == 400
    assert "Chọn ít nhất một hồ sơ" in html and "Ngày không hợp lệ" in html
    assert "Giờ không hợp lệ" in html
    assert "Ghi chú giữ lại" in html and 'value="Hội chẩn X"' in html

    # A facility on the same level is refused by the referral rule, as a field error.
    async with session_maker(w.engine)() as s:
        peer = await factories.facility(s, name="TTYT Đồng Phú")
    resp = await w.post(
        "/consultations/new",
        csrf,
        {"title": "Hội chẩn ngang tuyến", "host_facility_id": str(peer.id),
         "case_ids": str(w.case.id)},
    )
    assert resp.status == 400
    assert "Chỉ gửi yêu cầu hội chẩn lên cơ sở tuyến trên" in await resp.text()

    cid = await request_consultation(w)
    csrf = await w.as_user(w.coordinator)
    resp = await w.post(
        f"/consultations/{cid}/schedule",
        csrf,
        [("date", "2026-13-40"), ("time", "08:15"), ("duration", "5"),
         ("chair_id", str(w.coordinator.id)), ("action", "save")],
    )
    html = await resp.text()
    assert resp.status == 400
    assert "Ngày không hợp lệ" in html and "Thời lượng từ 15 phút đến 12 giờ" in html
    assert 'value="08:15"' in html and 'value="2026-13-40"' in html


async def test_roles_and_facilities_are_kept_apart(world: World) -> None:
    w = world
    cid = await request_consultation(w)
    csrf = await w.as_user(w.doctor)
    # A doctor cannot schedule, even their own request.
    assert (await w.client.get(f"/consultations/{cid}/schedule")).status == 403
    fields = schedule_form(w, next_weekday(1), "09:00")
    resp = await w.post(f"/consultations/{cid}/schedule", csrf, fields)
    assert resp.status == 403
    # A doctor of another district never learns the session exists.
    await w.as_user(w.stranger)
    for path in (
        f"/consultations/{cid}",
        f"/consultations/{cid}/schedule",
        f"/consultations/{cid}/calendar.ics",
    ):
        assert (await w.client.get(path)).status == 404, path
    assert "Hội chẩn suy tim" not in await (await w.client.get("/consultations")).text()
    # Nor does a specialist who was not invited.
    await w.as_user(w.outsider_specialist)
    assert (await w.client.get(f"/consultations/{cid}")).status == 404
    # Only doctors request.
    await w.as_user(w.coordinator)
    assert (await w.client.get("/consultations/new")).status == 403
    # A request that is not scheduled has no calendar file.
    assert (await w.client.get(f"/consultations/{cid}/calendar.ics")).status == 409
    # Signed out: the page sends to the login form.
    w.client.session.cookie_jar.clear()
    resp = await w.client.get(f"/consultations/{cid}", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")


async def test_coordinator_declines_a_request(world: World) -> None:
    w = world
    cid = await request_consultation(w)
    csrf = await w.as_user(w.coordinator)
    resp = await w.post(f"/consultations/{cid}/cancel", csrf, {"reason": "Đề nghị chuyển tuyến"})
    assert resp.status == 200 and resp.url.path == f"/consultations/{cid}"
    html = await resp.text()
    assert "Đã từ chối yêu cầu hội chẩn" in html
    assert "Đã hủy" in html
    # Without the CSRF token nothing happens.
    cid2 = await request_consultation(w, "Yêu cầu thứ hai")
    await w.as_user(w.coordinator)
    resp = await w.client.post(f"/consultations/{cid2}/cancel", data={"reason": "x"})
    assert resp.status == 403
    async with session_maker(w.engine)() as s:
        still = await s.get(Consultation, uuid.UUID(cid2))
        assert still is not None and still.status == ConsultationStatus.requested


async def test_english_pages(world: World) -> None:
    w = world
    cid = await request_consultation(w)
    w.client.session.cookie_jar.update_cookies({"lang": "en"}, w.client.make_url("/"))
    html = await (await w.client.get(f"/consultations/{cid}")).text()
    assert "Awaiting scheduling" in html and "Chờ xếp lịch" not in html
    agenda = await (await w.client.get("/schedule")).text()
    assert "Monday" in agenda and "Thứ Hai" not in agenda


def test_every_message_of_these_pages_has_an_english_translation() -> None:
    from babel.messages.extract import extract_from_file

    from web.i18n import LOCALE_DIR, read_catalog

    web_dir = Path(__file__).resolve().parents[3] / "web"
    english = read_catalog(LOCALE_DIR, "en")
    found: list[str] = []
    for name in ("consultations", "schedule", "minutes", "admin"):
        module = web_dir / "pages" / f"{name}.py"
        package = sorted((web_dir / "pages" / name).glob("*.py"))
        for path in [module] if module.exists() else package:
            for _, msg, _, _ in extract_from_file(
                "python", path,
                keywords={"gettext": (2,), "ngettext": (2, 3), "N_": None},
            ):
                found.append(msg if isinstance(msg, str) else msg[0])
    for folder in ("consultations", "minutes", "admin"):
        for template in sorted((web_dir / "templates" / folder).glob("*.html")):
            for _, msg, _, _ in extract_from_file(
                "jinja2.ext:babel_extract", template,
                keywords={"_": None, "ngettext": (1, 2), "gettext": None},
            ):
                found.append(msg if isinstance(msg, str) else msg[0])
    assert len(found) > 200
    missing = sorted({m for m in found if not getattr(english.get(m), "string", "")})
    assert missing == []


async def test_garbage_input_gets_a_4xx_and_changes_nothing(world: World) -> None:
    w = world
    csrf = await w.as_user(w.doctor)
    for data in (
        {"title": "x" * 500, "host_facility_id": "không-phải-mã", "case_ids": "zzz"},
        {"title": "Hội chẩn", "host_facility_id": str(uuid.uuid4()), "case_ids": str(uuid.uuid4())},
        {"preferred_date": "2026-02-30", "preferred_time": "7h"},
    ):
        resp = await w.post("/consultations/new", csrf, data)
        assert 400 <= resp.status < 500, data
    cid = await request_consultation(w)
    csrf = await w.as_user(w.coordinator)
    for fields in (
        [("date", "x"), ("time", "y"), ("duration", "-5"), ("chair_id", "z"), ("action", "save")],
        [("date", "2026-12-01"), ("time", "09:00"), ("duration", "60"), ("chair_id", "z"),
         ("invitees", "không"), ("action", "check")],
        [("date", "2026-12-01"), ("time", "09:00"), ("duration", "60"),
         ("chair_id", str(uuid.uuid4())), ("action", "save")],
        [("action", "search"), ("facility_id", "nope"), ("q", "%_'\"")],
    ):
        resp = await w.post(f"/consultations/{cid}/schedule", csrf, fields)
        assert 200 <= resp.status < 500 and resp.url.path.endswith("/schedule"), fields
    for path in ("/schedule?week=tuần-sau", "/consultations?status=bogus", "/consultations/abc"):
        assert (await w.client.get(path)).status < 500, path
    async with session_maker(w.engine)() as s:
        c = await s.get(Consultation, uuid.UUID(cid))
        assert c is not None and c.status == ConsultationStatus.requested
