"""The outcome after a consultation: reported by the requesting doctor once the minutes are
final, validated, audited, in the case history; read by the consultants; overdue after the
set delay, and notified once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import factories
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import select

from records import audit
from records.actor import Actor
from records.db import session_maker
from records.errors import Conflict, Forbidden, Invalid, NotFound
from records.localtime import to_local
from records.models import (
    AuditEvent,
    Case,
    CaseEvent,
    CaseOutcome,
    Consultation,
    ConsultationStatus,
    FacilityLevel,
    MinutesUpdate,
    Notification,
    NotificationKind,
    OutcomeCreate,
    OutcomeKind,
    ParticipantRole,
    Role,
    User,
    utcnow,
)
from records.services import minutes, outcomes

# The session took place an hour ago (the minutes are finalised now, by the clock).
T0 = utcnow() - timedelta(hours=1)
DAY = to_local(T0).date()


@dataclass
class World:
    """A district doctor's case discussed at the provincial hospital, minutes final."""

    doctor: User
    colleague: User
    chair: User
    specialist: User
    outsider: User
    case: Case
    consultation: Consultation


async def _world(session: AsyncSession, *, final: bool = True) -> World:
    prov = await factories.facility(session, level=FacilityLevel.provincial, name="BV tỉnh")
    dist = await factories.facility(session, parent=prov, name="TTYT huyện Chơn Thành")
    other = await factories.facility(session, parent=prov, name="TTYT Phước Long")
    doctor = await factories.user(session, facility=dist)
    colleague = await factories.user(session, facility=dist)
    chair = await factories.user(session, facility=prov, role=Role.specialist)
    specialist = await factories.user(session, facility=prov, role=Role.specialist)
    outsider = await factories.user(session, facility=other)
    patient = await factories.patient(session, facility=dist, full_name="Trần Văn Hùng")
    case = await factories.case(session, patient=patient, author=doctor, status="scheduled")
    consultation = await factories.consultation(
        session,
        host=prov,
        requesting=dist,
        cases=[case],
        chair=chair,
        participants={specialist.id: ParticipantRole.specialist},
    )
    consultation.requested_by = doctor.id
    consultation.started_at = T0
    consultation.status = ConsultationStatus.ended
    session.add(consultation)
    await session.commit()
    await minutes.save_draft(
        session=session,
        consultation_id=consultation.id,
        case_id=case.id,
        data=MinutesUpdate(conclusion="Suy tim độ III", treatment_plan="Tăng lợi tiểu"),
        actor=Actor.of(chair),
    )
    if final:
        await minutes.finalize(
            session=session, consultation_id=consultation.id, case_id=case.id, actor=Actor.of(chair)
        )
    return World(doctor, colleague, chair, specialist, outsider, case, consultation)


async def _record(
    session: AsyncSession, w: World, who: User, data: OutcomeCreate, today: date = DAY
) -> CaseOutcome:
    return await outcomes.record_outcome(
        session=session,
        consultation_id=w.consultation.id,
        case_id=w.case.id,
        data=data,
        actor=Actor.of(who),
        today=today,
    )


async def test_outcome_recorded_read_by_consultants_and_kept_in_history(
    session: AsyncSession,
) -> None:
    w = await _world(session)
    entry = await _record(
        session,
        w,
        w.colleague,
        OutcomeCreate(kind=OutcomeKind.followed, outcome_date=DAY + timedelta(days=3), note=" "),
        today=DAY + timedelta(days=5),
    )
    assert entry.note == ""
    later = await _record(
        session,
        w,
        w.doctor,
        OutcomeCreate(
            kind=OutcomeKind.transferred,
            outcome_date=DAY + timedelta(days=6),
            note="Chuyển Bệnh viện Chợ Rẫy",
        ),
        today=DAY + timedelta(days=6),
    )
    # The consultants read it on the consultation; the newest entry comes first.
    for reader in (w.chair, w.specialist, w.doctor):
        seen = await outcomes.for_consultation(
            session=session, consultation_id=w.consultation.id, actor=Actor.of(reader)
        )
        follow = seen[w.case.id]
        assert follow.minutes.conclusion == "Suy tim độ III"
        assert [o.id for o in follow.outcomes] == [later.id, entry.id]
        assert follow.latest is not None and follow.latest.kind == OutcomeKind.transferred
    on_case = await outcomes.for_case(session=session, case_id=w.case.id, actor=Actor.of(w.doctor))
    assert [f.consultation.id for f in on_case] == [w.consultation.id]
    history = (
        (await session.execute(select(CaseEvent).where(CaseEvent.case_id == w.case.id)))
        .scalars()
        .all()
    )
    assert [e.detail for e in history if e.action == "outcome"] == ["followed", "transferred"]
    created = (
        (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.object_type == "outcome", AuditEvent.action == "create"
                )
            )
        )
        .scalars()
        .all()
    )
    assert {e.object_id for e in created} == {str(entry.id), str(later.id)}
    assert all(e.patient_id == w.case.patient_id for e in created)
    assert (await audit.verify(session)).ok


async def test_only_the_requesting_side_records_and_others_cannot_see(
    session: AsyncSession,
) -> None:
    w = await _world(session)
    good = OutcomeCreate(kind=OutcomeKind.improved, outcome_date=DAY)
    with pytest.raises(Forbidden):
        await _record(session, w, w.specialist, good)
    with pytest.raises(Forbidden):
        await _record(session, w, w.chair, good)
    with pytest.raises(NotFound):
        await _record(session, w, w.outsider, good)
    with pytest.raises(NotFound):
        await outcomes.for_case(session=session, case_id=w.case.id, actor=Actor.of(w.outsider))
    with pytest.raises(NotFound):
        await outcomes.for_consultation(
            session=session, consultation_id=w.consultation.id, actor=Actor.of(w.outsider)
        )
    assert (await session.execute(select(CaseOutcome))).first() is None


async def test_bad_reports_are_refused_and_change_nothing(session: AsyncSession) -> None:
    w = await _world(session)
    cases = [
        (OutcomeCreate(kind=OutcomeKind.changed, outcome_date=DAY, note="  "), "note"),
        (OutcomeCreate(kind=OutcomeKind.other, outcome_date=DAY), "note"),
        (
            OutcomeCreate(kind=OutcomeKind.died, outcome_date=DAY + timedelta(days=1)),
            "outcome_date",
        ),
        (
            OutcomeCreate(kind=OutcomeKind.died, outcome_date=DAY - timedelta(days=1)),
            "outcome_date",
        ),
    ]
    for data, field in cases:
        with pytest.raises(Invalid) as caught:
            await _record(session, w, w.doctor, data)
        assert field in caught.value.fields
    before = await session.execute(select(CaseEvent).where(CaseEvent.action == "outcome"))
    assert before.first() is None
    assert (await session.execute(select(CaseOutcome))).first() is None


async def test_no_outcome_before_the_minutes_are_final(session: AsyncSession) -> None:
    w = await _world(session, final=False)
    with pytest.raises(Conflict):
        await _record(session, w, w.doctor, OutcomeCreate(kind=OutcomeKind.died, outcome_date=DAY))
    assert (
        await outcomes.for_case(session=session, case_id=w.case.id, actor=Actor.of(w.doctor)) == []
    )


async def _finalized_at(session: AsyncSession, w: World) -> datetime:
    m = await minutes.read_minutes(
        session=session,
        consultation_id=w.consultation.id,
        case_id=w.case.id,
        actor=Actor.of(w.doctor),
    )
    assert m.finalized_at is not None
    return m.finalized_at


async def test_overdue_shows_for_the_doctors_of_the_case(session: AsyncSession) -> None:
    w = await _world(session)
    done = await _finalized_at(session, w)
    due = timedelta(days=7)
    early = done + timedelta(days=6)
    late = done + timedelta(days=7, minutes=1)
    doctor = Actor.of(w.doctor)
    assert await outcomes.overdue_for(session=session, actor=doctor, now=early, due=due) == []
    found = await outcomes.overdue_for(session=session, actor=doctor, now=late, due=due)
    assert [o.case.id for o in found] == [w.case.id]
    assert found[0].due_at == done + due
    # Only the doctors of the case's facility see it on their home page.
    for other in (w.outsider, w.specialist, w.chair):
        assert await outcomes.overdue_for(session=session, actor=Actor.of(other), now=late) == []
    follow = (await outcomes.for_case(session=session, case_id=w.case.id, actor=doctor))[0]
    assert follow.overdue(late) and not follow.overdue(early)
    await _record(
        session,
        w,
        w.doctor,
        OutcomeCreate(kind=OutcomeKind.followed, outcome_date=to_local(late).date()),
        today=to_local(late).date(),
    )
    assert await outcomes.overdue_for(session=session, actor=doctor, now=late, due=due) == []


async def test_overdue_notice_goes_out_once_across_processes(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    w = await _world(session)
    done = await _finalized_at(session, w)
    sessions = session_maker(engine)
    early = done + timedelta(days=2)
    async with sessions() as s:
        assert await outcomes.notify_overdue(session=s, now=early, due=timedelta(days=3)) == []
    late = done + timedelta(days=3, seconds=1)
    async with sessions() as a, sessions() as b:
        first, second = await asyncio.gather(
            outcomes.notify_overdue(session=a, now=late, due=timedelta(days=3)),
            outcomes.notify_overdue(session=b, now=late, due=timedelta(days=3)),
        )
        again = await outcomes.notify_overdue(session=a, now=late + timedelta(days=30))
    assert [n.user_id for n in first + second] == [w.doctor.id]
    assert again == []
    stored = (
        (await session.execute(select(Notification).where(Notification.user_id == w.doctor.id)))
        .scalars()
        .all()
    )
    assert [n.kind for n in stored if n.kind == NotificationKind.outcome] == ["outcome"]
    assert stored[-1].case_id == w.case.id
