"""Reading the audit log: who may, the filters of its screens and exports, the list itself,
and whether an action is already on record (to audit a repeated view once)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .actor import Actor
from .audit import record_now
from .errors import Forbidden
from .messages import msg
from .models import AuditEvent, Role
from .services import Page, clamp_page


async def require_auditor(session: AsyncSession, actor: Actor) -> None:
    """Refuse anyone but an admin (or the system) the audit log; the refusal is logged."""
    if not (actor.is_system or actor.role == Role.admin):
        await record_now(
            session, actor=actor, action="denied", object_type="audit", outcome="denied"
        )
        raise Forbidden(msg("Chỉ quản trị viên được xem nhật ký truy cập"))


def event_conditions(
    user_id: uuid.UUID | None,
    patient_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    action: str | None,
) -> list[Any]:
    """The where-clauses of the audit log's filters (any of them may be left out)."""
    conds: list[Any] = []
    if user_id is not None:
        conds.append(AuditEvent.actor_id == user_id)
    if patient_id is not None:
        conds.append(AuditEvent.patient_id == patient_id)
    if since is not None:
        conds.append(AuditEvent.at >= since)
    if until is not None:
        conds.append(AuditEvent.at < until)
    if action:
        conds.append(AuditEvent.action == action)
    return conds


async def recorded_since(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    action: str,
    object_type: str,
    object_id: object,
    since: datetime,
) -> bool:
    """Whether this person's action on this object is already in the log since a moment."""
    found = await session.execute(
        select(AuditEvent.seq)
        .where(
            AuditEvent.actor_id == actor_id,
            AuditEvent.action == action,
            AuditEvent.object_type == object_type,
            AuditEvent.object_id == str(object_id),
            AuditEvent.at >= since,
        )
        .limit(1)
    )
    return found.first() is not None


async def list_events(
    *,
    session: AsyncSession,
    actor: Actor,
    user_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    limit: int | None = 50,
    offset: int | None = 0,
) -> Page[AuditEvent]:
    """Audit events, newest first, for admins."""
    await require_auditor(session, actor)
    lim, off = clamp_page(limit, offset)
    conds = event_conditions(user_id, patient_id, since, until, action)
    total = (
        await session.execute(select(sa.func.count()).select_from(AuditEvent).where(*conds))
    ).scalar_one()
    items = (
        (
            await session.execute(
                select(AuditEvent)
                .where(*conds)
                .order_by(AuditEvent.seq.desc())  # type: ignore[attr-defined]
                .limit(lim)
                .offset(off)
            )
        )
        .scalars()
        .all()
    )
    return Page(items=list(items), total=int(total), limit=lim, offset=off)
