"""Attendance as a read model: one row per person, every interval (overlaps merged), the
connection point and the part in the session; the minutes are pre-filled from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factories
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from records.actor import Actor
from records.errors import NotFound
from records.models import FacilityLevel, ParticipantRole, Role
from records.services import attendance, minutes_form, room_events
from records.services.attendance import Interval, merge

T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)


def at(minutes_after: int) -> datetime:
    """A moment of the session."""
    return T0 + timedelta(minutes=minutes_after)


def test_merge_joins_overlapping_and_touching_stays_only() -> None:
    stays = [
        Interval(at(30), at(40)),
        Interval(at(0), at(10)),
        Interval(at(5), at(12)),  # a second tab while the first was open
        Interval(at(12), at(15)),  # back the moment it left
        Interval(at(50), None),  # still in the room
        Interval(at(55), at(60)),
    ]
    assert merge(stays) == (
        Interval(at(0), at(15)),
        Interval(at(30), at(40)),
        Interval(at(50), None),
    )
    assert merge([]) == ()


async def test_one_row_per_person_with_every_interval(session: AsyncSession) -> None:
    prov = await factories.facility(session, level=FacilityLevel.provincial, name="BV tỉnh")
    dist = await factories.facility(session, parent=prov, name="TTYT huyện Chơn Thành")
    other = await factories.facility(session, parent=prov, name="TTYT Phước Long")
    chair = await factories.user(session, facility=prov, role=Role.coordinator)
    specialist = await factories.user(
        session, facility=prov, role=Role.specialist, specialty="Tim mạch"
    )
    doctor = await factories.user(session, facility=dist)
    host_coordinator = await factories.user(session, facility=prov, role=Role.coordinator)
    outsider = await factories.user(session, facility=other)
    patient = await factories.patient(session, facility=dist)
    case = await factories.case(session, patient=patient, author=doctor, status="scheduled")
    c = await factories.consultation(
        session,
        host=prov,
        requesting=dist,
        cases=[case],
        chair=chair,
        participants={specialist.id: ParticipantRole.specialist},
    )
    room = c.room_id

    async def stay(user_id: object, peer: str, start: int, end: int | None) -> None:
        await room_events.record_join(
            session=session, room_id=room, user_id=user_id, peer_id=peer, at=at(start)
        )
        if end is not None:
            await room_events.record_leave(
                session=session, room_id=room, user_id=user_id, peer_id=peer, at=at(end)
            )

    await stay(chair.id, "c1", 0, None)
    await stay(doctor.id, "d1", 2, 20)  # dropped out ...
    await stay(doctor.id, "d2", 25, 40)  # ... and came back
    await stay(specialist.id, "s1", 5, 30)
    await stay(specialist.id, "s2", 10, 35)  # a second tab
    await stay(host_coordinator.id, "h1", 15, 16)

    rows = await attendance.read_attendance(
        session=session, consultation_id=c.id, actor=Actor.of(doctor)
    )
    by_user = {r.user_id: r for r in rows}
    assert [r.user_id for r in rows] == [chair.id, doctor.id, specialist.id, host_coordinator.id]
    assert by_user[chair.id].role == ParticipantRole.chair
    assert by_user[chair.id].intervals == (Interval(at(0), None),)
    assert by_user[doctor.id].role == ParticipantRole.presenter
    assert by_user[doctor.id].facility == "TTYT huyện Chơn Thành"
    assert by_user[doctor.id].intervals == (Interval(at(2), at(20)), Interval(at(25), at(40)))
    assert by_user[doctor.id].seconds(at(60)) == 33 * 60
    assert by_user[specialist.id].intervals == (Interval(at(5), at(35)),)
    assert by_user[specialist.id].specialty == "Tim mạch"
    assert by_user[host_coordinator.id].role == ParticipantRole.observer
    assert attendance.connection_points(rows) == [
        (prov.id, "BV tỉnh"),
        (dist.id, "TTYT huyện Chơn Thành"),
    ]
    with pytest.raises(NotFound):
        await attendance.read_attendance(
            session=session, consultation_id=c.id, actor=Actor.of(outsider)
        )

    # The room ends: the open stay closes, and the minutes list each person once.
    await room_events.record_room_ended(session=session, room_id=room, at=at(45))
    listed = await minutes_form.attendees(session, c)
    assert [p["user_id"] for p in listed] == [
        str(chair.id),
        str(doctor.id),
        str(specialist.id),
        str(host_coordinator.id),
    ]
    assert listed[1]["intervals"] == [
        [at(2).isoformat(), at(20).isoformat()],
        [at(25).isoformat(), at(40).isoformat()],
    ]
    assert listed[0]["intervals"] == [[at(0).isoformat(), at(45).isoformat()]]
