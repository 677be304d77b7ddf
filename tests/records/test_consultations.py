"""Consultations: request up the line, scheduling with conflicts, invitations, live and end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import factories
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from records import audit
from records.actor import Actor
from records.errors import Conflict, Forbidden, Invalid, NotFound
from records.models import (
    CaseStatus,
    ConsultationRequest,
    ConsultationSchedule,
    ConsultationStatus,
    FacilityLevel,
    ParticipantRole,
    Role,
)
from records.services import cases, consultations, room_events, schedules

T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)


async def setup(session: AsyncSession):  # type: ignore[no-untyped-def]
    prov = await factories.facility(session, level=FacilityLevel.provincial)
    dist = await factories.facility(session, parent=prov)
    doc_user = await factories.user(session, facility=dist)
    coord = Actor.of(await factories.user(session, facility=prov, role=Role.coordinator))
    chair = await factories.user(session, facility=prov, role=Role.specialist)
    spec = await factories.user(session, facility=prov, role=Role.specialist)
    p = await factories.patient(session, facility=dist)
    case = await factories.case(session, patient=p, author=doc_user)
    return prov, dist, Actor.of(doc_user), coord, chair, spec, case


async def test_full_flow(session: AsyncSession) -> None:
    prov, dist, doc, coord, chair, spec, case = await setup(session)
    with pytest.raises(Invalid):
        await consultations.request_consultation(
            session=session,
            actor=doc,
            data=ConsultationRequest(
                title="Hội chẩn", case_ids=[case.id], host_facility_id=dist.id
            ),
        )
    c = await consultations.request_consultation(
        session=session,
        actor=doc,
        data=ConsultationRequest(
            title="Hội chẩn tim mạch", case_ids=[case.id], host_facility_id=prov.id
        ),
    )
    assert c.status == ConsultationStatus.requested
    assert (await cases.get_case(session=session, case_id=case.id, actor=doc)).status == "submitted"
    with pytest.raises(Conflict):
        await consultations.request_consultation(
            session=session,
            actor=doc,
            data=ConsultationRequest(title="Lần hai", case_ids=[case.id], host_facility_id=prov.id),
        )
    sched = ConsultationSchedule(
        scheduled_start=T0,
        scheduled_end=T0 + timedelta(hours=1),
        chair_id=chair.id,
        invitees=[spec.id],
    )
    with pytest.raises(Forbidden):
        await schedules.schedule(session=session, consultation_id=c.id, data=sched, actor=doc)
    result = await schedules.schedule(
        session=session, consultation_id=c.id, data=sched, actor=coord
    )
    assert result.conflicts == []
    pub = await consultations.get_consultation(
        session=session, consultation_id=c.id, actor=Actor.of(spec)
    )
    assert pub.case_ids == [case.id] and pub.chair_id == chair.id
    assert {p.role for p in pub.participants} == {"presenter", "chair", "specialist"}
    assert (await cases.get_case(session=session, case_id=case.id, actor=doc)).status == "scheduled"

    await room_events.record_join(
        session=session, room_id=c.room_id, user_id=spec.id, peer_id="p1", at=T0
    )
    live = await consultations.get_consultation(session=session, consultation_id=c.id, actor=coord)
    assert live.status == ConsultationStatus.live
    await room_events.record_chat(
        session=session, room_id=c.room_id, user_id=spec.id, text="Chào các anh chị", at=T0
    )
    left = await room_events.record_leave(
        session=session,
        room_id=c.room_id,
        user_id=spec.id,
        peer_id="p1",
        at=T0 + timedelta(minutes=5),
        reason="left",
    )
    assert left is not None and left.left_at is not None
    assert (
        await room_events.record_leave(
            session=session, room_id=c.room_id, user_id=spec.id, peer_id="p1", at=T0, reason="left"
        )
        is None
    )
    with pytest.raises(Forbidden):
        await consultations.end(session=session, consultation_id=c.id, actor=Actor.of(spec))
    ended = await consultations.end(session=session, consultation_id=c.id, actor=Actor.of(chair))
    assert ended.status == ConsultationStatus.ended
    assert (await cases.get_case(session=session, case_id=case.id, actor=doc)).status == "discussed"
    with pytest.raises(Conflict):
        await consultations.cancel(session=session, consultation_id=c.id, actor=coord)
    chat = await room_events.chat_log(session=session, consultation_id=c.id, actor=doc)
    assert [(m.text, bool(name)) for m, name in chat] == [("Chào các anh chị", True)]
    assert (await audit.verify(session)).ok


async def test_conflicts_and_invitations(session: AsyncSession) -> None:
    prov, dist, doc, coord, chair, spec, case = await setup(session)
    busy = await factories.consultation(
        session,
        host=prov,
        requesting=dist,
        chair=chair,
        participants={spec.id: ParticipantRole.specialist},
    )
    busy.scheduled_start, busy.scheduled_end = T0 + timedelta(minutes=30), T0 + timedelta(hours=2)
    session.add(busy)
    await session.commit()
    found = await schedules.find_conflicts(
        session=session,
        actor=coord,
        user_ids=[spec.id, doc.user_id],
        start=T0,
        end=T0 + timedelta(hours=1),  # type: ignore[list-item]
    )
    assert [(b.user_id, b.consultation and b.consultation.id) for b in found] == [
        (spec.id, busy.id)
    ]
    assert (
        await schedules.find_conflicts(
            session=session,
            actor=coord,
            user_ids=[spec.id],
            start=T0 - timedelta(hours=1),
            end=T0 + timedelta(minutes=30),
        )
        == []
    )

    c = await consultations.request_consultation(
        session=session,
        actor=doc,
        data=ConsultationRequest(title="Hội chẩn", case_ids=[case.id], host_facility_id=prov.id),
    )
    result = await schedules.schedule(
        session=session,
        consultation_id=c.id,
        actor=coord,
        data=ConsultationSchedule(
            scheduled_start=T0,
            scheduled_end=T0 + timedelta(hours=1),
            chair_id=chair.id,
            invitees=[spec.id],
        ),
    )
    assert {b.user_id for b in result.conflicts} == {chair.id, spec.id}

    extra = await factories.user(session, facility=prov, role=Role.specialist)
    await schedules.invite(
        session=session,
        consultation_id=c.id,
        user_id=extra.id,
        actor=coord,
        role=ParticipantRole.observer,
    )
    mine = await consultations.list_consultations(session=session, actor=Actor.of(extra), mine=True)
    assert [x.id for x in mine.items] == [c.id]
    await schedules.uninvite(session=session, consultation_id=c.id, user_id=extra.id, actor=coord)
    with pytest.raises(NotFound):
        await consultations.get_consultation(
            session=session, consultation_id=c.id, actor=Actor.of(extra)
        )
    with pytest.raises(Conflict):
        await schedules.uninvite(
            session=session, consultation_id=c.id, user_id=chair.id, actor=coord
        )
    week = await consultations.list_consultations(
        session=session, actor=coord, start=T0 - timedelta(days=1), end=T0 + timedelta(days=6)
    )
    assert {x.id for x in week.items} == {c.id, busy.id}
    upcoming = await consultations.upcoming_for(
        session=session, actor=Actor.of(spec), now=T0 - timedelta(days=1)
    )
    assert [x.id for x in upcoming] == [c.id, busy.id]

    cancelled = await consultations.cancel(session=session, consultation_id=c.id, actor=coord)
    assert cancelled.status == ConsultationStatus.cancelled
    assert (
        await cases.get_case(session=session, case_id=case.id, actor=doc)
    ).status == CaseStatus.submitted


async def test_room_ended_closes_attendance(session: AsyncSession) -> None:
    prov, dist, doc, coord, chair, spec, case = await setup(session)
    c = await factories.consultation(session, host=prov, requesting=dist, cases=[case], chair=chair)
    case.status = CaseStatus.scheduled
    session.add(case)
    await session.commit()
    await room_events.record_join(
        session=session, room_id=c.room_id, user_id=chair.id, peer_id="a", at=T0
    )
    await room_events.record_join(
        session=session,
        room_id=c.room_id,
        user_id=chair.id,
        peer_id="b",
        at=T0 + timedelta(minutes=1),
    )
    ended = await room_events.record_room_ended(
        session=session, room_id=c.room_id, at=T0 + timedelta(hours=1)
    )
    assert ended.status == ConsultationStatus.ended and ended.started_at == T0
    assert (await cases.get_case(session=session, case_id=case.id, actor=doc)).status == "discussed"
    with pytest.raises(NotFound):
        await room_events.record_chat(
            session=session, room_id="missing", user_id=chair.id, text="x", at=T0
        )
    with pytest.raises(NotFound, match="phòng"):
        await room_events.record_join(
            session=session, room_id="missing", user_id=chair.id, peer_id="c", at=T0
        )
    with pytest.raises(NotFound, match="người dùng"):
        await room_events.record_join(
            session=session, room_id=c.room_id, user_id=uuid.uuid4(), peer_id="c", at=T0
        )
