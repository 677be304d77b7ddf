"""The outcome after a consultation: the requesting doctor reports what became of the patient
once the minutes are final; the consultants read it; an outcome not reported in time is
overdue, shown on the doctor's home page and notified once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid, NotFound
from ..localtime import to_local
from ..messages import msg
from ..models import (
    Case,
    CaseOutcome,
    Consultation,
    ConsultationCase,
    Minutes,
    MinutesStatus,
    Notification,
    OutcomeCreate,
    OutcomeReminder,
    Role,
)
from ..models.base import utcnow
from ..models.outcomes import NOTE_REQUIRED
from . import notify_events
from .cases import add_event

DEFAULT_DUE = timedelta(days=7)


@dataclass(slots=True)
class FollowUp:
    """The final minutes of one consultation about a case, and what was reported since."""

    consultation: Consultation
    minutes: Minutes
    due_at: datetime
    # Newest first: the first entry is the current outcome.
    outcomes: list[CaseOutcome] = field(default_factory=list)

    @property
    def latest(self) -> CaseOutcome | None:
        """The outcome as last reported, if any."""
        return self.outcomes[0] if self.outcomes else None

    def overdue(self, now: datetime) -> bool:
        """Whether no outcome was reported and the time for it has passed."""
        return not self.outcomes and now >= self.due_at


def due_at(minutes: Minutes, due: timedelta) -> datetime:
    """When the outcome of final minutes is due."""
    return (minutes.finalized_at or minutes.updated_at or minutes.created_at) + due


def _session_day(consultation: Consultation, minutes: Minutes) -> date:
    """The local day the consultation took place (the earliest an outcome may be dated); the
    day of the final minutes when they were signed before the planned start."""
    done = minutes.finalized_at or minutes.created_at
    held = consultation.started_at or consultation.scheduled_start or done
    return to_local(min(held, done)).date()


async def _final_minutes(
    session: AsyncSession, consultation_id: uuid.UUID, case_id: uuid.UUID
) -> Minutes:
    minutes = (
        await session.execute(
            select(Minutes).where(
                Minutes.consultation_id == consultation_id, Minutes.case_id == case_id
            )
        )
    ).scalar_one_or_none()
    if minutes is None or minutes.status != MinutesStatus.final:
        raise Conflict(msg("Biên bản hội chẩn chưa hoàn tất, chưa thể ghi kết quả điều trị"))
    return minutes


async def record_outcome(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    data: OutcomeCreate,
    actor: Actor,
    today: date | None = None,
) -> CaseOutcome:
    """Add an outcome entry to a case after the final minutes of a consultation (doctors of the
    case's facility); the entry is kept in the case history and audited."""
    data = OutcomeCreate.model_validate(data.model_dump())
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    if await session.get(ConsultationCase, (consultation_id, case_id)) is None:
        raise NotFound(msg("Hồ sơ không thuộc phiên hội chẩn này"))
    case = await access.require_case(session=session, actor=actor, case_id=case_id, write=True)
    minutes = await _final_minutes(session, consultation_id, case_id)
    note = data.note.strip()
    if data.kind in NOTE_REQUIRED and not note:
        problem = msg("Vui lòng ghi rõ diễn biến (thay đổi gì, chuyển đi đâu)")
        raise Invalid(problem, fields={"note": problem})
    today = today or to_local(utcnow()).date()
    if data.outcome_date > today:
        problem = msg("Ngày ghi nhận không thể ở tương lai")
        raise Invalid(problem, fields={"outcome_date": problem})
    earliest = _session_day(consultation, minutes)
    if data.outcome_date < earliest:
        problem = msg(
            "Ngày ghi nhận không thể trước ngày hội chẩn (%(day)s)",
            day=f"{earliest:%d/%m/%Y}",
        )
        raise Invalid(problem, fields={"outcome_date": problem})
    outcome = CaseOutcome(
        case_id=case.id,
        consultation_id=consultation.id,
        minutes_id=minutes.id,
        kind=data.kind,
        outcome_date=data.outcome_date,
        note=note,
        recorded_by=actor.user_id or case.author_id,
    )
    session.add(outcome)
    add_event(session, case=case, actor=actor, action="outcome", detail=str(data.kind))
    await audit.record(
        session,
        actor=actor,
        action="create",
        object_type="outcome",
        object_id=outcome.id,
        patient_id=case.patient_id,
        detail={"kind": str(data.kind), "consultation_id": str(consultation.id)},
    )
    await session.commit()
    return outcome


async def _follow_ups(
    session: AsyncSession,
    case_ids: Sequence[uuid.UUID],
    due: timedelta,
    *,
    consultation_id: uuid.UUID | None = None,
) -> list[FollowUp]:
    if not case_ids:
        return []
    query = (
        select(Minutes, Consultation)
        .join(Consultation, col(Consultation.id) == Minutes.consultation_id)
        .where(col(Minutes.case_id).in_(list(case_ids)), Minutes.status == MinutesStatus.final)
        .order_by(col(Minutes.finalized_at).desc())
    )
    if consultation_id is not None:
        query = query.where(Minutes.consultation_id == consultation_id)
    pairs = (await session.execute(query)).all()
    if not pairs:
        return []
    entries = (
        (
            await session.execute(
                select(CaseOutcome)
                .where(col(CaseOutcome.minutes_id).in_([m.id for m, _ in pairs]))
                .order_by(col(CaseOutcome.recorded_at).desc())
            )
        )
        .scalars()
        .all()
    )
    out = [FollowUp(consultation=c, minutes=m, due_at=due_at(m, due)) for m, c in pairs]
    by_minutes = {f.minutes.id: f for f in out}
    for entry in entries:
        by_minutes[entry.minutes_id].outcomes.append(entry)
    return out


async def for_case(
    *, session: AsyncSession, case_id: uuid.UUID, actor: Actor, due: timedelta = DEFAULT_DUE
) -> list[FollowUp]:
    """The final minutes about a case with their outcomes, newest first (case readers; the
    read is audited)."""
    case = await access.require_case(session=session, actor=actor, case_id=case_id)
    await audit.record_now(
        session,
        actor=actor,
        action="view",
        object_type="outcome",
        object_id=case.id,
        patient_id=case.patient_id,
    )
    return await _follow_ups(session, [case_id], due)


async def for_consultation(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    actor: Actor,
    due: timedelta = DEFAULT_DUE,
) -> dict[uuid.UUID, FollowUp]:
    """The follow-up of each case of a consultation the actor may read, by case id (a read
    that finds any is audited)."""
    await access.require_consultation(session=session, actor=actor, consultation_id=consultation_id)
    readable = (
        (
            await session.execute(
                select(ConsultationCase.case_id)
                .join(Case, col(Case.id) == ConsultationCase.case_id)
                .where(
                    ConsultationCase.consultation_id == consultation_id,
                    access.cases_filter(actor, utcnow()),
                )
            )
        )
        .scalars()
        .all()
    )
    found = await _follow_ups(session, readable, due, consultation_id=consultation_id)
    if found:
        await audit.record_now(
            session,
            actor=actor,
            action="view",
            object_type="outcome",
            object_id=consultation_id,
            detail={"cases": [str(f.minutes.case_id) for f in found]},
        )
    return {f.minutes.case_id: f for f in found}


def _overdue_query(now: datetime, due: timedelta) -> Any:
    reported = select(CaseOutcome.id).where(CaseOutcome.minutes_id == Minutes.id).exists()
    return (
        select(Minutes, Case)
        .join(Case, col(Case.id) == Minutes.case_id)
        .where(
            Minutes.status == MinutesStatus.final,
            col(Minutes.finalized_at) <= now - due,
            ~reported,
        )
        .order_by(col(Minutes.finalized_at))
    )


@dataclass(frozen=True, slots=True)
class Overdue:
    """A case whose outcome is overdue, for the doctor's home page."""

    case: Case
    minutes: Minutes
    due_at: datetime


async def overdue_for(
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
    due: timedelta = DEFAULT_DUE,
    limit: int = 20,
) -> list[Overdue]:
    """The cases of the doctor's facility whose outcome is overdue, longest overdue first."""
    if actor.role != Role.doctor or actor.facility_id is None:
        return []
    now = now or utcnow()
    rows = await session.execute(
        _overdue_query(now, due).where(Case.facility_id == actor.facility_id).limit(limit)
    )
    return [Overdue(case=c, minutes=m, due_at=due_at(m, due)) for m, c in rows.all()]


async def notify_overdue(
    *,
    session: AsyncSession,
    now: datetime | None = None,
    due: timedelta = DEFAULT_DUE,
    default_language: str = "vi",
    email: bool = True,
) -> list[Notification]:
    """Tell the doctors of every case whose outcome became overdue, once per set of minutes,
    whichever process or restart gets there first (the claim is a row keyed by the minutes)."""
    now = now or utcnow()
    sent = select(OutcomeReminder.minutes_id).where(OutcomeReminder.minutes_id == Minutes.id)
    rows = (await session.execute(_overdue_query(now, due).where(~sent.exists()))).all()
    targets = [(m.id, m.case_id, m.consultation_id) for m, _ in rows]
    await session.commit()
    created: list[Notification] = []
    for minutes_id, case_id, consultation_id in targets:
        session.add(OutcomeReminder(minutes_id=minutes_id, sent_at=now))
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()  # another process claimed it first
            continue
        # The claim commits with the notifications (outcome_overdue commits once).
        created += await notify_events.outcome_overdue(
            session=session,
            case_id=case_id,
            consultation_id=consultation_id,
            default_language=default_language,
            email=email,
        )
        await session.commit()
    return created
