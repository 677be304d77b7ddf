"""Names for the audit log: who acted and on what, as a reader recognises them (the ids stay
available beside them). Patients are shown by id only: the log's readers are not clinicians."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..actor import Actor
from ..audit_log import require_auditor
from ..models import Attachment, AuditEvent, Case, Consultation, Facility, User

# What names each kind of object, and the column it is found by.
_NAMED: dict[str, tuple[Any, str]] = {
    "user": (User, "display_name"),
    "facility": (Facility, "name"),
    "consultation": (Consultation, "title"),
    "case": (Case, "title"),
    "attachment": (Attachment, "filename"),
}


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def names_for(
    *, session: AsyncSession, actor: Actor, events: Sequence[AuditEvent]
) -> dict[str, str]:
    """Names by "<object type>:<id>" for the events' objects and actors ("user:<id>")."""
    await require_auditor(session, actor)
    wanted: dict[str, set[uuid.UUID]] = {kind: set() for kind in _NAMED}
    for ev in events:
        if ev.actor_id is not None:
            wanted["user"].add(ev.actor_id)
        oid = _uuid(ev.object_id) if ev.object_id else None
        if oid is not None and ev.object_type in wanted:
            wanted[ev.object_type].add(oid)
    names: dict[str, str] = {}
    for kind, ids in wanted.items():
        if not ids:
            continue
        model, attr = _NAMED[kind]
        rows = await session.execute(select(model).where(col(model.id).in_(ids)))
        for obj in rows.scalars():
            names[f"{kind}:{obj.id}"] = str(getattr(obj, attr))
    return names
