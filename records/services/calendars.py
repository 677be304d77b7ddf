"""A session's calendar file (.ics) and its revision, for anyone who may see the session.

The SEQUENCE of the event counts the times the session was moved or cancelled after its first
scheduling, read from the audit trail, so calendar programs replace their copy.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access
from ..actor import Actor
from ..errors import Conflict
from ..ical import CalendarAttendee, consultation_calendar
from ..messages import Speaker, msg
from ..models import AuditEvent, ConsultationStatus, Facility, ParticipantRole
from .scheduling_views import participants_of


def _when(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


async def schedule_sequence(*, session: AsyncSession, consultation_id: uuid.UUID) -> int:
    """The calendar SEQUENCE: how many times the session was moved or cancelled after its
    first scheduling, read from the audit trail (which records every schedule and status)."""
    rows = await session.execute(
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "consultation",
            AuditEvent.object_id == str(consultation_id),
            col(AuditEvent.action).in_(("update", "status")),
        )
        .order_by(col(AuditEvent.seq))
    )
    sequence = 0
    last: tuple[datetime | None, datetime | None] | None = None
    for event in rows.scalars().all():
        detail = event.detail or {}
        if event.action == "update" and "start" in detail:
            times = (_when(detail.get("start")), _when(detail.get("end")))
            if last is not None and times != last:
                sequence += 1
            last = times
        elif event.action == "status" and detail.get("to") == ConsultationStatus.cancelled:
            if last is not None:
                sequence += 1
    return sequence


async def calendar_file(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    url: str | None = None,
    say: Speaker = str,
) -> bytes:
    """The ``.ics`` of a scheduled session for anyone who may see it; Conflict before that."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    if consultation.scheduled_start is None or consultation.scheduled_end is None:
        raise Conflict(msg("Phiên hội chẩn chưa được lên lịch"))
    host = await session.get(Facility, consultation.host_facility_id)
    attendees = [
        CalendarAttendee(
            name=person.name, email=person.email, chair=p.role == ParticipantRole.chair
        )
        for p, person in await participants_of(session, consultation.id)
    ]
    return consultation_calendar(
        consultation,
        sequence=await schedule_sequence(session=session, consultation_id=consultation.id),
        host_name=host.name if host is not None else "",
        url=url,
        attendees=attendees,
        say=say,
    )
