"""The audit log as CSV for admins: one row per event, oldest first, safe for spreadsheets.

Times are local (Asia/Ho_Chi_Minh, ``YYYY-MM-DD HH:MM:SS``), as a spreadsheet reads them; the
web edge adds the UTF-8 byte order mark that makes Excel read the Vietnamese names right.
The export itself is audited.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .actor import Actor
from .audit import record_now
from .audit_log import event_conditions, require_auditor
from .localtime import to_local
from .models import AuditEvent

CSV_HEADER = [
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "client_addr",
    "outcome",
    "detail",
    "hash",
]
EXPORT_LIMIT = 100_000


def _cell(value: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; names and details come from users.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def local_time(at: datetime) -> str:
    """A moment as a spreadsheet reads it, in local time: ``2026-11-29 08:30:00``."""
    return to_local(at).strftime("%Y-%m-%d %H:%M:%S")


def to_csv_rows(events: Iterable[AuditEvent]) -> Iterator[list[str]]:
    """The header, then one row of strings per event, for CSV export."""
    yield list(CSV_HEADER)
    for ev in events:
        yield [
            str(ev.seq),
            local_time(ev.at),
            str(ev.actor_id) if ev.actor_id else "",
            _cell(ev.actor_name),
            ev.action,
            _cell(ev.object_type),
            _cell(ev.object_id or ""),
            str(ev.patient_id) if ev.patient_id else "",
            _cell(ev.client_addr or ""),
            ev.outcome,
            orjson.dumps(ev.detail, option=orjson.OPT_SORT_KEYS).decode() if ev.detail else "",
            ev.hash,
        ]


def to_csv(events: Iterable[AuditEvent]) -> str:
    """Audit events as CSV text."""
    buf = io.StringIO()
    csv.writer(buf).writerows(to_csv_rows(events))
    return buf.getvalue()


async def export_csv(
    *,
    session: AsyncSession,
    actor: Actor,
    user_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
) -> str:
    """The filtered audit log as CSV for admins, oldest first; the export itself is audited."""
    await require_auditor(session, actor)
    filters: dict[str, Any] = {
        "user_id": user_id,
        "patient_id": patient_id,
        "since": since,
        "until": until,
        "action": action,
    }
    # One query, so events written meanwhile neither shift nor repeat rows.
    events = (
        (
            await session.execute(
                select(AuditEvent)
                .where(*event_conditions(user_id, patient_id, since, until, action))
                .order_by(AuditEvent.seq)  # type: ignore[arg-type]
                .limit(EXPORT_LIMIT)
            )
        )
        .scalars()
        .all()
    )
    await record_now(
        session,
        actor=actor,
        action="export",
        object_type="audit",
        detail={k: str(v) for k, v in filters.items() if v is not None} | {"rows": len(events)},
    )
    return to_csv(events)
