"""Invitations answered: an invitee accepts or declines a session's time, with a reason."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid, NotFound
from ..events import InvitationAnswered, announce
from ..messages import msg
from ..models import (
    ConsultationStatus,
    InvitationAnswer,
    InvitationResponse,
    Participant,
    ParticipantRole,
)
from ..models.base import utcnow

ANSWERABLE = (ConsultationStatus.scheduled, ConsultationStatus.live)


async def answer_invitation(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    data: InvitationAnswer,
    actor: Actor,
) -> Participant:
    """The actor's answer to their invitation; a decline needs a reason for the coordinator."""
    data = InvitationAnswer.model_validate(data.model_dump())
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    participant = (
        await session.execute(
            select(Participant).where(
                Participant.consultation_id == consultation.id,
                Participant.user_id == actor.user_id,
            )
        )
    ).scalar_one_or_none()
    if participant is None or participant.role == ParticipantRole.presenter:
        raise NotFound(msg("Bạn không có lời mời nào cho phiên này"))
    if consultation.status not in ANSWERABLE:
        raise Conflict(msg("Phiên hội chẩn chưa được lên lịch, đã kết thúc hoặc đã hủy"))
    reason = " ".join(data.reason.split())
    if not data.accept and not reason:
        problem = msg("Vui lòng ghi lý do từ chối")
        raise Invalid(problem, fields={"reason": problem})
    participant.response = (
        InvitationResponse.accepted if data.accept else InvitationResponse.declined
    )
    participant.response_reason = "" if data.accept else reason
    participant.responded_at = utcnow()
    session.add(participant)
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="consultation",
        object_id=consultation.id,
        detail={"invitation": participant.response},
    )
    await session.commit()
    await announce(
        session,
        InvitationAnswered(
            actor_id=actor.user_id,
            consultation_id=consultation.id,
            user_id=participant.user_id,
            accepted=data.accept,
        ),
    )
    return participant
