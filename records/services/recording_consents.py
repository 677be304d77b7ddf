"""Recording consent decisions, as participants gave them in the room."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access
from ..actor import Actor
from ..errors import NotFound
from ..messages import msg
from ..models import RecordingConsent


async def record_consent(
    *, session: AsyncSession, room_id: str, user_id: uuid.UUID, accept: bool, at: datetime
) -> RecordingConsent:
    """Keep one decision (every change is kept, in order)."""
    consultation = await access.consultation_by_room(session=session, room_id=room_id)
    if consultation is None:
        raise NotFound(msg("Không tìm thấy phòng hội chẩn"))
    consent = RecordingConsent(
        consultation_id=consultation.id, user_id=user_id, accept=accept, at=at
    )
    session.add(consent)
    await session.commit()
    return consent


async def consents_for(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> list[RecordingConsent]:
    """Every decision of a consultation, oldest first, for those who may read it."""
    await access.require_consultation(session=session, actor=actor, consultation_id=consultation_id)
    rows = await session.execute(
        select(RecordingConsent)
        .where(RecordingConsent.consultation_id == consultation_id)
        .order_by(col(RecordingConsent.at), col(RecordingConsent.id))
    )
    return list(rows.scalars())
