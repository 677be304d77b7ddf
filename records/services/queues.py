"""Urgency-aware lists of consultations: the coordinator's queue (emergencies first, then the
oldest, late emergencies flagged) and the overview of sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access
from ..actor import Actor
from ..models import Consultation, ConsultationStatus, Facility, Urgency
from ..models.base import utcnow
from . import consultations as consultations_svc
from . import urgency

_COMING = frozenset({ConsultationStatus.scheduled, ConsultationStatus.live})
_PAST = frozenset({ConsultationStatus.ended, ConsultationStatus.cancelled})
_SHOWN = 200


@dataclass(frozen=True, slots=True)
class AgendaItem:
    """A session on the agenda, with the names the agenda shows and its urgency."""

    consultation: Consultation
    host: str
    requesting: str
    urgency: Urgency = Urgency.routine
    # An emergency waiting for a time longer than allowed.
    overdue: bool = False


async def items_of(
    session: AsyncSession, items: list[Consultation], delay: timedelta
) -> list[AgendaItem]:
    """Agenda items with facility names, urgency and the overdue flag."""
    names = await facility_names(
        session, [c.host_facility_id for c in items] + [c.requesting_facility_id for c in items]
    )
    levels = await urgency.urgencies(session, [c.id for c in items])
    now = utcnow()
    out = []
    for c in items:
        level = levels.get(c.id, Urgency.routine)
        out.append(
            AgendaItem(
                c,
                names.get(c.host_facility_id, ""),
                names.get(c.requesting_facility_id, ""),
                level,
                urgency.overdue(c, level, now, delay),
            )
        )
    return out


async def facility_names(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Facility names by id."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Facility.id, Facility.name).where(col(Facility.id).in_(list(dict.fromkeys(ids))))
    )
    return {fid: name for fid, name in rows.all()}


async def inbox(
    *,
    session: AsyncSession,
    actor: Actor,
    delay: timedelta = urgency.DEFAULT_EMERGENCY_DELAY,
    own_requests: bool = False,
) -> list[AgendaItem]:
    """Requests waiting for a time: for a coordinator those their facility hosts (with
    ``own_requests``, a doctor's own), emergencies first, then the oldest first."""
    page = await consultations_svc.list_consultations(
        session=session, actor=actor, status=ConsultationStatus.requested, limit=200
    )
    if own_requests:
        items = [c for c in page.items if c.requested_by == actor.user_id]
    else:
        items = [c for c in page.items if access.can_manage(actor, c)]
    found = await items_of(session, items, delay)
    found.sort(key=lambda i: urgency.queue_key(i.consultation, i.urgency))
    return found


async def overview(
    *,
    session: AsyncSession,
    actor: Actor,
    status: ConsultationStatus | None = None,
    delay: timedelta = urgency.DEFAULT_EMERGENCY_DELAY,
) -> list[AgendaItem]:
    """The latest consultations the actor may see (at most 200), with facility names and
    urgency: requests still waiting (emergencies first), then what is coming soonest first, then
    the past, latest first."""
    page = await consultations_svc.list_consultations(
        session=session, actor=actor, status=status, newest_first=True, limit=_SHOWN
    )
    chosen = list(page.items)
    if status is None:
        # Requests waiting are the work still to do: however old, they are never crowded out.
        requests = await consultations_svc.list_consultations(
            session=session, actor=actor, status=ConsultationStatus.requested, limit=_SHOWN
        )
        seen = {c.id for c in requests.items}
        chosen = list(requests.items) + [c for c in chosen if c.id not in seen]
    found = await items_of(session, chosen[:_SHOWN], delay)
    waiting = [i for i in found if i.consultation.status == ConsultationStatus.requested]
    waiting.sort(key=lambda i: urgency.queue_key(i.consultation, i.urgency))
    coming = [i for i in found if i.consultation.status in _COMING]
    coming.sort(key=lambda i: i.consultation.scheduled_start or i.consultation.created_at)
    past = [i for i in found if i.consultation.status in _PAST]
    return waiting + coming + past
