"""Scheduling a consultation: time, chair and invitees, the conflicts, and invitations.

Only the coordinators of the host facility schedule and invite (``access.can_manage``); a
session may be (re)scheduled while it is requested or scheduled. Conflicts (the same person in
two sessions at once) are warned about, not refused: the coordinator decides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid, NotFound
from ..events import ConsultationScheduled, InvitationWithdrawn, Invited, announce
from ..messages import msg
from ..models import (
    CaseStatus,
    Consultation,
    ConsultationSchedule,
    ConsultationStatus,
    InvitationResponse,
    Participant,
    ParticipantRole,
    User,
)
from ..models.base import utcnow
from .cases import apply_transition
from .consultations import BUSY, OPEN, cases_of, participant_ids, set_status

SCHEDULABLE = (ConsultationStatus.requested, ConsultationStatus.scheduled)


@dataclass(slots=True)
class Scheduled:
    """A scheduled consultation and the participants' overlapping sessions (a warning)."""

    consultation: Consultation
    conflicts: list[Busy] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Busy:
    """A person already busy at the proposed time: in ``consultation`` when the asker may read
    it, else (another hospital's session) only busy, with no id, title or times."""

    user_id: uuid.UUID
    consultation: Consultation | None


def require_schedulable(consultation: Consultation) -> None:
    """Conflict unless the consultation may still be (re)scheduled: requested or scheduled."""
    if consultation.status not in SCHEDULABLE:
        raise Conflict(msg("Phiên hội chẩn đã diễn ra hoặc đã hủy, không thể xếp lịch"))


async def _active_user(session: AsyncSession, user_id: uuid.UUID, field_name: str) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise Invalid(
            msg("Người được mời không tồn tại"), fields={field_name: msg("Không tồn tại")}
        )
    return user


async def _upsert_participant(
    session: AsyncSession,
    *,
    consultation: Consultation,
    user_id: uuid.UUID,
    role: ParticipantRole,
    actor: Actor,
) -> Participant:
    existing = (
        await session.execute(
            select(Participant).where(
                Participant.consultation_id == consultation.id, Participant.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        existing = Participant(
            consultation_id=consultation.id,
            user_id=user_id,
            role=role,
            invited_by=actor.user_id,
        )
    else:
        existing.role = role
    session.add(existing)
    return existing


async def _demote_old_chair(
    session: AsyncSession, consultation: Consultation, new_chair: uuid.UUID
) -> None:
    rows = await session.execute(
        select(Participant).where(
            Participant.consultation_id == consultation.id,
            Participant.role == ParticipantRole.chair,
            Participant.user_id != new_chair,
        )
    )
    for p in rows.scalars().all():
        p.role = ParticipantRole.specialist
        session.add(p)
    consultation.chair_id = new_chair


async def find_conflicts(
    *,
    session: AsyncSession,
    actor: Actor,
    user_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
    exclude_id: uuid.UUID | None = None,
) -> list[Busy]:
    """Who is already in a session overlapping [start, end): the sessions the actor may read in
    full, the others as one "busy" per person."""
    if not user_ids:
        return []
    stmt = (
        select(Participant.user_id, Consultation)
        .join(Consultation, col(Consultation.id) == Participant.consultation_id)
        .where(
            col(Participant.user_id).in_(user_ids),
            col(Consultation.status).in_(BUSY),
            col(Consultation.scheduled_start) < end,
            col(Consultation.scheduled_end) > start,
        )
        .order_by(col(Consultation.scheduled_start))
    )
    if exclude_id is not None:
        stmt = stmt.where(Consultation.id != exclude_id)
    pairs = [(uid, c) for uid, c in (await session.execute(stmt)).all()]
    ids = {c.id for _, c in pairs}
    readable = set(
        (
            await session.execute(
                select(Consultation.id).where(
                    col(Consultation.id).in_(ids), access.consultations_filter(actor)
                )
            )
        )
        .scalars()
        .all()
    )
    found: list[Busy] = []
    busy_only: set[uuid.UUID] = set()
    for uid, c in pairs:
        if c.id in readable:
            found.append(Busy(uid, c))
        elif uid not in busy_only:
            busy_only.add(uid)
            found.append(Busy(uid, None))
    return found


async def schedule(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    data: ConsultationSchedule,
    actor: Actor,
    roles: dict[uuid.UUID, ParticipantRole] | None = None,
) -> Scheduled:
    """Set time, chair and invitees (coordinator of the host); cases become scheduled."""
    data = ConsultationSchedule.model_validate(data.model_dump())
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id, manage=True
    )
    require_schedulable(consultation)
    roles = roles or {}
    await _active_user(session, data.chair_id, "chair_id")
    for uid in data.invitees:
        await _active_user(session, uid, "invitees")
    before = set(await participant_ids(session, consultation.id))
    was_scheduled = consultation.scheduled_start is not None
    moved = (consultation.scheduled_start, consultation.scheduled_end) != (
        data.scheduled_start,
        data.scheduled_end,
    )
    if moved:
        await _ask_again(session, consultation)
    consultation.scheduled_start = data.scheduled_start
    consultation.scheduled_end = data.scheduled_end
    consultation.requires_admission = data.requires_admission
    await _demote_old_chair(session, consultation, data.chair_id)
    await _upsert_participant(
        session,
        consultation=consultation,
        user_id=data.chair_id,
        role=ParticipantRole.chair,
        actor=actor,
    )
    for uid in dict.fromkeys(data.invitees):
        if uid == data.chair_id:
            continue
        role = roles.get(uid, ParticipantRole.specialist)
        if role == ParticipantRole.chair:
            raise Invalid(
                msg("Mỗi phiên chỉ có một chủ tọa"), fields={"invitees": msg("Trùng chủ tọa")}
            )
        await _upsert_participant(
            session, consultation=consultation, user_id=uid, role=role, actor=actor
        )
    if consultation.scheduled_at is None:
        consultation.scheduled_at = utcnow()
    if consultation.status == ConsultationStatus.requested:
        await set_status(
            session, consultation=consultation, to=ConsultationStatus.scheduled, actor=actor
        )
    for case in await cases_of(session, consultation.id):
        if case.status == CaseStatus.submitted:
            await apply_transition(session, case=case, to=CaseStatus.scheduled, actor=actor)
    consultation.updated_at = utcnow()
    session.add(consultation)
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="consultation",
        object_id=consultation.id,
        detail={
            "start": data.scheduled_start.isoformat(),
            "end": data.scheduled_end.isoformat(),
            "chair": str(data.chair_id),
        },
    )
    await session.flush()
    everyone = (
        (
            await session.execute(
                select(Participant.user_id).where(Participant.consultation_id == consultation.id)
            )
        )
        .scalars()
        .all()
    )
    conflicts = await find_conflicts(
        session=session,
        actor=actor,
        user_ids=list(everyone),
        start=data.scheduled_start,
        end=data.scheduled_end,
        exclude_id=consultation.id,
    )
    await session.commit()
    added = tuple(uid for uid in everyone if uid not in before)
    if moved or added:
        await announce(
            session,
            ConsultationScheduled(
                actor_id=actor.user_id,
                consultation_id=consultation.id,
                rescheduled=was_scheduled and moved,
                new_invitees=added,
            ),
        )
    return Scheduled(consultation=consultation, conflicts=conflicts)


async def _ask_again(session: AsyncSession, consultation: Consultation) -> None:
    """A new time: every invitee answers again, and the reminder goes out again."""
    consultation.reminded_at = None
    rows = await session.execute(
        select(Participant).where(Participant.consultation_id == consultation.id)
    )
    for participant in rows.scalars().all():
        participant.response = InvitationResponse.pending
        participant.response_reason = ""
        participant.responded_at = None
        session.add(participant)


async def invite(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: Actor,
    role: ParticipantRole = ParticipantRole.specialist,
) -> Participant:
    """Invite someone (or change their part); inviting a chair replaces the chair."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id, manage=True
    )
    if consultation.status not in OPEN:
        raise Conflict(msg("Phiên hội chẩn đã kết thúc hoặc đã hủy"))
    await _active_user(session, user_id, "user_id")
    new = user_id not in set(await participant_ids(session, consultation.id))
    if role == ParticipantRole.chair:
        await _demote_old_chair(session, consultation, user_id)
    elif consultation.chair_id == user_id:
        raise Conflict(msg("Hãy chỉ định chủ tọa khác trước khi đổi vai trò của chủ tọa"))
    participant = await _upsert_participant(
        session, consultation=consultation, user_id=user_id, role=role, actor=actor
    )
    session.add(consultation)
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="consultation",
        object_id=consultation.id,
        detail={"invite": str(user_id), "role": role},
    )
    await session.commit()
    if new and consultation.status in BUSY:
        await announce(
            session,
            Invited(actor_id=actor.user_id, consultation_id=consultation.id, user_id=user_id),
        )
    return participant


async def uninvite(
    *, session: AsyncSession, consultation_id: uuid.UUID, user_id: uuid.UUID, actor: Actor
) -> None:
    """Withdraw an invitation (not the chair's); the person loses access to the cases."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id, manage=True
    )
    if consultation.chair_id == user_id:
        raise Conflict(msg("Không thể hủy lời mời của chủ tọa"))
    participant = (
        await session.execute(
            select(Participant).where(
                Participant.consultation_id == consultation.id, Participant.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    if participant is None:
        raise NotFound(msg("Người này không có trong danh sách mời"))
    await session.delete(participant)
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="consultation",
        object_id=consultation.id,
        detail={"uninvite": str(user_id)},
    )
    await session.commit()
    await announce(
        session,
        InvitationWithdrawn(
            actor_id=actor.user_id,
            consultation_id=consultation.id,
            room_id=consultation.room_id,
            user_id=user_id,
        ),
    )
