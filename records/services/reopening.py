"""Undoing an end by mistake: the chair or the host coordinator reopens an ended session while
its scheduled time lasts, unless its minutes are final."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict
from ..events import ConsultationReopened, announce
from ..localtime import LOCAL_TZ
from ..messages import msg
from ..models import CaseStatus, Consultation, ConsultationStatus, Minutes, MinutesStatus
from ..models.base import utcnow
from .cases import apply_transition
from .consultations import _require_runner, cases_of


def reopenable(consultation: Consultation, now: datetime) -> bool:
    """Whether an ended session is still within its scheduled time (who may do it aside)."""
    end = consultation.scheduled_end
    return consultation.status == ConsultationStatus.ended and end is not None and now < end


async def may_reopen(*, session: AsyncSession, actor: Actor, consultation: Consultation) -> bool:
    """Whether the actor could reopen this session once ended: its chair or host coordinator."""
    return access.can_manage(actor, consultation) or await access.is_chair(
        session=session, actor=actor, consultation=consultation
    )


async def reopen(
    *, session: AsyncSession, consultation_id: uuid.UUID, actor: Actor
) -> Consultation:
    """Reopen a session ended by mistake (chair or host coordinator); its cases are scheduled
    again and its room accepts people again."""
    consultation = await _require_runner(session, actor, consultation_id)
    now = utcnow()
    if consultation.status != ConsultationStatus.ended:
        raise Conflict(msg("Phiên hội chẩn này chưa kết thúc nên không cần mở lại"))
    if not reopenable(consultation, now):
        end = consultation.scheduled_end
        raise Conflict(
            msg(
                "Đã quá giờ kết thúc dự kiến của phiên (%(end)s) nên không thể mở lại; "
                "hãy đặt một phiên mới",
                end=end.astimezone(LOCAL_TZ).strftime("%H:%M %d/%m/%Y") if end else "",
            )
        )
    final = await session.execute(
        select(Minutes.id).where(
            Minutes.consultation_id == consultation.id, Minutes.status == MinutesStatus.final
        )
    )
    if final.first() is not None:
        raise Conflict(msg("Biên bản của phiên đã được ký nên không thể mở lại phiên"))
    consultation.status = ConsultationStatus.live
    consultation.ended_at = None
    consultation.updated_at = now
    session.add(consultation)
    for case in await cases_of(session, consultation.id):
        if case.status == CaseStatus.discussed:
            await apply_transition(session, case=case, to=CaseStatus.scheduled, actor=actor)
    await audit.record(
        session,
        actor=actor,
        action="status",
        object_type="consultation",
        object_id=consultation.id,
        detail={"from": ConsultationStatus.ended, "to": ConsultationStatus.live, "reopened": True},
    )
    await session.commit()
    await announce(
        session,
        ConsultationReopened(
            actor_id=actor.user_id, consultation_id=consultation.id, room_id=consultation.room_id
        ),
    )
    return consultation
