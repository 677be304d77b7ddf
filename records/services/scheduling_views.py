"""Read models for the scheduling pages: inbox, agenda, session detail.

Everything here reads through the same access rules as the services it complements; nothing
here writes except through those services.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access
from ..actor import Actor
from ..errors import NotFound
from ..messages import msg
from ..models import (
    Attendance,
    Case,
    CaseStatus,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    Facility,
    InvitationResponse,
    Minutes,
    Participant,
    ParticipantRole,
    Role,
    Urgency,
    User,
)
from ..models.base import utcnow
from . import consultations as consultations_svc
from . import room_events, schedules, urgency
from .queues import AgendaItem, facility_names, inbox, items_of, overview

__all__ = ["AgendaItem", "facility_names", "inbox", "overview"]

# Cases a doctor may put into a new request.
REQUESTABLE = (CaseStatus.draft, CaseStatus.submitted)


@dataclass(frozen=True, slots=True)
class Person:
    """A user as the scheduling pages show them."""

    id: uuid.UUID
    name: str
    specialty: str
    facility: str
    role: Role
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ParticipantView:
    """An invited person, their part in the session and their answer to the invitation."""

    person: Person
    role: ParticipantRole
    invited_at: datetime
    response: InvitationResponse = InvitationResponse.pending
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AttendanceView:
    """One stay of one person in the room."""

    person: Person
    joined_at: datetime
    left_at: datetime | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class ConflictView:
    """Another session that overlaps, for one participant."""

    person: Person
    # None: a session the reader may not read; only that the person is busy is shown.
    other: Consultation | None


@dataclass(frozen=True, slots=True)
class ChatView:
    """A line of the room's chat."""

    name: str
    text: str
    at: datetime


@dataclass(slots=True)
class ConsultationDetail:
    """Everything the detail page shows about one consultation, for one actor."""

    consultation: Consultation
    host: Facility
    requesting: Facility
    requested_by: Person | None
    can_manage: bool
    is_chair: bool
    may_join: bool
    may_cancel: bool
    cases: list[Case] = field(default_factory=list)
    participants: list[ParticipantView] = field(default_factory=list)
    attendance: list[AttendanceView] = field(default_factory=list)
    chat: list[ChatView] = field(default_factory=list)
    conflicts: list[ConflictView] = field(default_factory=list)
    minutes: dict[uuid.UUID, Minutes] = field(default_factory=dict)
    urgency: Urgency = Urgency.routine
    # The actor's own invitation (None when not invited, or the presenter).
    invitation: ParticipantView | None = None


async def people(session: AsyncSession, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Person]:
    """Display details of some users, by id (names only; nothing clinical)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User, Facility.name)
        .join(Facility, col(Facility.id) == User.facility_id)
        .where(col(User.id).in_(list(dict.fromkeys(user_ids))))
    )
    return {
        user.id: Person(
            id=user.id,
            name=user.display_name,
            specialty=user.specialty or "",
            facility=facility_name,
            role=Role(user.role),
            email=user.email,
        )
        for user, facility_name in rows.all()
    }


async def agenda(
    *, session: AsyncSession, actor: Actor, start: datetime, end: datetime
) -> list[AgendaItem]:
    """Sessions the actor may see that start in [start, end), soonest first (a week at most)."""
    page = await consultations_svc.list_consultations(
        session=session, actor=actor, start=start, end=end, limit=200
    )
    items = [c for c in page.items if c.status != ConsultationStatus.cancelled]
    return await items_of(session, items, urgency.DEFAULT_EMERGENCY_DELAY)


async def requestable_cases(*, session: AsyncSession, actor: Actor) -> list[Case]:
    """Cases of the doctor's facility that may go into a new request (draft or submitted)."""
    if actor.role != Role.doctor or actor.facility_id is None:
        return []
    open_cases = (
        select(ConsultationCase.case_id)
        .join(Consultation, col(Consultation.id) == ConsultationCase.consultation_id)
        .where(col(Consultation.status).in_(consultations_svc.OPEN))
    )
    rows = await session.execute(
        select(Case)
        .where(
            Case.facility_id == actor.facility_id,
            col(Case.status).in_(REQUESTABLE),
            col(Case.id).not_in(open_cases),
        )
        .order_by(col(Case.created_at).desc())
        .limit(200)
    )
    return list(rows.scalars().all())


async def _readable_cases(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> list[Case]:
    rows = await session.execute(
        select(Case)
        .join(ConsultationCase, col(ConsultationCase.case_id) == Case.id)
        .where(
            ConsultationCase.consultation_id == consultation_id,
            access.cases_filter(actor, utcnow()),
        )
        .order_by(col(Case.created_at))
    )
    return list(rows.scalars().all())


async def participants_of(
    session: AsyncSession, consultation_id: uuid.UUID
) -> list[tuple[Participant, Person]]:
    """Everyone invited to a consultation, in the order of their invitation, with their names."""
    parts = list(
        (
            await session.execute(
                select(Participant)
                .where(Participant.consultation_id == consultation_id)
                .order_by(col(Participant.invited_at))
            )
        )
        .scalars()
        .all()
    )
    who = await people(session, [p.user_id for p in parts])
    return [(p, who[p.user_id]) for p in parts if p.user_id in who]


async def _attendance(session: AsyncSession, consultation_id: uuid.UUID) -> list[AttendanceView]:
    rows = list(
        (
            await session.execute(
                select(Attendance)
                .where(Attendance.consultation_id == consultation_id)
                .order_by(col(Attendance.joined_at))
            )
        )
        .scalars()
        .all()
    )
    who = await people(session, [a.user_id for a in rows])
    return [
        AttendanceView(who[a.user_id], a.joined_at, a.left_at, a.reason)
        for a in rows
        if a.user_id in who
    ]


async def conflicts_for(
    *,
    session: AsyncSession,
    actor: Actor,
    user_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
    exclude_id: uuid.UUID | None = None,
) -> list[ConflictView]:
    """Other sessions of these people that overlap [start, end), with their names."""
    found = await schedules.find_conflicts(
        session=session,
        actor=actor,
        user_ids=user_ids,
        start=start,
        end=end,
        exclude_id=exclude_id,
    )
    who = await people(session, [b.user_id for b in found])
    return [ConflictView(who[b.user_id], b.consultation) for b in found if b.user_id in who]


async def detail(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> ConsultationDetail:
    """The detail page's view of a consultation; NotFound for those who may not see it."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    return await _detail_of(session, actor, consultation)


async def schedulable_detail(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> ConsultationDetail:
    """The detail of a consultation the actor schedules, while it may still be scheduled."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id, manage=True
    )
    schedules.require_schedulable(consultation)
    return await _detail_of(session, actor, consultation)


async def _detail_of(
    session: AsyncSession, actor: Actor, consultation: Consultation
) -> ConsultationDetail:
    host = await session.get(Facility, consultation.host_facility_id)
    requesting = await session.get(Facility, consultation.requesting_facility_id)
    if host is None or requesting is None:
        raise NotFound(msg("Không tìm thấy phiên hội chẩn"))
    requester = (
        (await people(session, [consultation.requested_by])).get(consultation.requested_by)
        if consultation.requested_by
        else None
    )
    manage = access.can_manage(actor, consultation)
    chair = await access.is_chair(session=session, actor=actor, consultation=consultation)
    role = await access.room_role(session=session, actor=actor, consultation=consultation)
    own_request = (
        actor.user_id is not None
        and consultation.requested_by == actor.user_id
        and consultation.status == ConsultationStatus.requested
    )
    status = ConsultationStatus(consultation.status)
    view = ConsultationDetail(
        consultation=consultation,
        host=host,
        requesting=requesting,
        requested_by=requester,
        can_manage=manage,
        is_chair=chair,
        may_join=role is not None,
        may_cancel=(manage and status in consultations_svc.OPEN) or own_request,
    )
    view.cases = await _readable_cases(session, actor, consultation.id)
    view.participants = [
        ParticipantView(
            person,
            ParticipantRole(p.role),
            p.invited_at,
            InvitationResponse(p.response),
            p.response_reason,
        )
        for p, person in await participants_of(session, consultation.id)
    ]
    view.attendance = await _attendance(session, consultation.id)
    if view.cases:
        # The chat goes with the cases: none readable (past the follow-up window), no chat.
        view.chat = [
            ChatView(name=name, text=m.text, at=m.at)
            for m, name in await room_events.chat_log(
                session=session,
                consultation_id=consultation.id,
                actor=actor,
            )
        ]
    start, end = consultation.scheduled_start, consultation.scheduled_end
    if start is not None and end is not None and status in consultations_svc.BUSY:
        view.conflicts = await conflicts_for(
            session=session,
            actor=actor,
            user_ids=[p.person.id for p in view.participants],
            start=start,
            end=end,
            exclude_id=consultation.id,
        )
    view.urgency = (await urgency.urgencies(session, [consultation.id])).get(
        consultation.id, Urgency.routine
    )
    view.invitation = next(
        (
            p
            for p in view.participants
            if p.person.id == actor.user_id and p.role != ParticipantRole.presenter
        ),
        None,
    )
    readable = {c.id for c in view.cases}
    rows = await session.execute(select(Minutes).where(Minutes.consultation_id == consultation.id))
    view.minutes = {m.case_id: m for m in rows.scalars().all() if m.case_id in readable}
    return view
