"""How urgent a consultation is (its most urgent case), queues ordered by it, and emergencies
still waiting for a time past the allowed delay."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..models import Case, Consultation, ConsultationCase, ConsultationStatus, Urgency

RANK = {Urgency.routine: 0, Urgency.urgent: 1, Urgency.emergency: 2}
DEFAULT_EMERGENCY_DELAY = timedelta(minutes=30)


async def urgencies(
    session: AsyncSession, consultation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Urgency]:
    """Each consultation's urgency: that of its most urgent case."""
    if not consultation_ids:
        return {}
    rows = await session.execute(
        select(ConsultationCase.consultation_id, Case.urgency)
        .join(Case, col(Case.id) == ConsultationCase.case_id)
        .where(col(ConsultationCase.consultation_id).in_(list(dict.fromkeys(consultation_ids))))
    )
    out: dict[uuid.UUID, Urgency] = {}
    for cid, value in rows.all():
        urgency = Urgency(value)
        if cid not in out or RANK[urgency] > RANK[out[cid]]:
            out[cid] = urgency
    return out


def queue_key(consultation: Consultation, urgency: Urgency) -> tuple[int, datetime]:
    """Emergencies first, then urgent, then routine; the oldest request first within each."""
    return (-RANK[urgency], consultation.created_at)


def overdue(
    consultation: Consultation,
    urgency: Urgency,
    now: datetime,
    delay: timedelta = DEFAULT_EMERGENCY_DELAY,
) -> bool:
    """An emergency still waiting for a time longer than ``delay`` after it was requested."""
    return (
        urgency == Urgency.emergency
        and consultation.status == ConsultationStatus.requested
        and now - consultation.created_at > delay
    )
