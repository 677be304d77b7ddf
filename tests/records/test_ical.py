"""Calendar files: time zone, stable UID, SEQUENCE that follows reschedules, nothing clinical."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import factories
import icalendar
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from records.actor import Actor
from records.errors import Conflict, NotFound
from records.ical import CalendarAttendee, NotScheduled, consultation_calendar, event_uid
from records.localtime import LOCAL_TZ as HCM
from records.models import (
    Consultation,
    ConsultationSchedule,
    ConsultationStatus,
    FacilityLevel,
    Role,
)
from records.services import calendars, schedules
from records.services import consultations as consultations_svc


def _consultation(**kw: object) -> Consultation:
    values: dict[str, object] = {
        "title": "Hội chẩn bệnh nhân Nguyễn Văn An",
        "requesting_facility_id": uuid.uuid4(),
        "host_facility_id": uuid.uuid4(),
        "scheduled_start": datetime(2026, 12, 3, 7, 30, tzinfo=UTC),
        "scheduled_end": datetime(2026, 12, 3, 8, 30, tzinfo=UTC),
        "status": ConsultationStatus.scheduled,
    }
    values.update(kw)
    return Consultation(**values)  # type: ignore[arg-type]


def _event(body: bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(body)
    events = [e for e in cal.walk("VEVENT") if isinstance(e, icalendar.Event)]
    assert len(events) == 1
    return cal, events[0]


def test_event_is_in_ho_chi_minh_time_with_its_timezone() -> None:
    c = _consultation()
    body = consultation_calendar(
        c,
        sequence=0,
        host_name="BVĐK tỉnh Bình Phước",
        url="https://telemed.example/c/1",
        attendees=[
            CalendarAttendee("TS.BS. Lê Hoa", "hoa@bv.vn", chair=True),
            CalendarAttendee("BS. Không Thư", None),
        ],
        stamp=datetime(2026, 12, 1, tzinfo=UTC),
    )
    cal, event = _event(body)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Ho_Chi_Minh"]
    start = event.decoded("DTSTART")
    assert event["DTSTART"].params["TZID"] == "Asia/Ho_Chi_Minh"
    assert (start.hour, start.minute, start.utcoffset()) == (14, 30, timedelta(hours=7))
    assert event.decoded("DTEND") - start == timedelta(hours=1)
    assert str(event["UID"]) == event_uid(c.id) == f"consultation-{c.id}@telemed"
    assert int(str(event["SEQUENCE"])) == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == "https://telemed.example/c/1"
    text = body.decode()
    # Health data stays out of calendars: not the patient's name, not the typed title.
    assert "Nguyễn Văn An" not in text
    assert str(event["SUMMARY"]) == "Hội chẩn trực tuyến – BVĐK tỉnh Bình Phước"
    attendees = event.get("ATTENDEE")
    assert str(attendees) == "mailto:hoa@bv.vn"
    assert attendees.params["ROLE"] == "CHAIR"


def test_cancelled_sessions_say_so_and_unscheduled_ones_have_no_file() -> None:
    _, event = _event(
        consultation_calendar(
            _consultation(status=ConsultationStatus.cancelled), sequence=2, host_name=""
        )
    )
    assert str(event["STATUS"]) == "CANCELLED" and int(str(event["SEQUENCE"])) == 2
    assert not list(event.walk("VALARM"))
    with pytest.raises(NotScheduled):
        consultation_calendar(
            _consultation(scheduled_start=None, scheduled_end=None), sequence=0, host_name="x"
        )


async def test_sequence_follows_reschedules_and_cancel(session: AsyncSession) -> None:
    province = await factories.facility(session, level=FacilityLevel.provincial)
    district = await factories.facility(session, parent=province)
    elsewhere = await factories.facility(session, parent=province)
    coordinator = await factories.user(session, facility=province, role=Role.coordinator)
    doctor = await factories.user(session, facility=district)
    stranger = await factories.user(session, facility=elsewhere)
    patient = await factories.patient(session, facility=district)
    case = await factories.case(session, patient=patient, author=doctor)
    c = await factories.consultation(
        session,
        host=province,
        requesting=district,
        cases=[case],
        status=ConsultationStatus.requested,
    )
    boss = Actor.of(coordinator)
    start = datetime(2026, 12, 7, 9, 0, tzinfo=HCM)

    async def schedule(at: datetime) -> None:
        await schedules.schedule(
            session=session,
            consultation_id=c.id,
            actor=boss,
            data=ConsultationSchedule(
                scheduled_start=at,
                scheduled_end=at + timedelta(hours=1),
                chair_id=coordinator.id,
            ),
        )

    async def sequence() -> int:
        return await calendars.schedule_sequence(session=session, consultation_id=c.id)

    with pytest.raises(Conflict):
        await calendars.calendar_file(session=session, actor=boss, consultation_id=c.id)
    await schedule(start)
    assert await sequence() == 0
    # The same time again, written in UTC, is no change.
    await schedule(start.astimezone(UTC))
    assert await sequence() == 0
    await schedule(start + timedelta(hours=2))
    assert await sequence() == 1
    _, event = _event(
        await calendars.calendar_file(session=session, actor=boss, consultation_id=c.id)
    )
    assert int(str(event["SEQUENCE"])) == 1 and event.decoded("DTSTART").hour == 11
    await consultations_svc.cancel(session=session, consultation_id=c.id, actor=boss)
    assert await sequence() == 2
    _, event = _event(
        await calendars.calendar_file(session=session, actor=boss, consultation_id=c.id)
    )
    assert str(event["STATUS"]) == "CANCELLED"
    # Another facility's doctor does not learn the session exists.
    with pytest.raises(NotFound):
        await calendars.calendar_file(
            session=session, actor=Actor.of(stranger), consultation_id=c.id
        )
