"""The append-only, hash-chained audit trail.

Every event stores the hash of the event before it (``prev_hash``, 64 zeros for the first) and
its own ``hash``: SHA-256 over ``prev_hash`` and a canonical JSON of its content (seq, time,
actor, action, object, patient, client address, outcome, detail). Editing or deleting any row
breaks the chain at that row, which ``verify`` reports. ``seq`` is gap-free: writers take a
transaction-scoped advisory lock on PostgreSQL, and the database write lock on SQLite, before
reading the head of the chain, so concurrent writers never fork it.

Actions:

- ``login``, ``login-failed``, ``logout``: sign-in and sign-out;
- ``view``, ``download``: reading a record or a file;
- ``create``, ``update``, ``delete``: changes to records;
- ``status``: a status transition (case, consultation, minutes);
- ``join``, ``leave``: entering and leaving a consultation room;
- ``admin``: administrative changes (facilities, users, roles, activation);
- ``denied``: an access refused by the access rules;
- ``export``: data leaving the system (CSV, PDF, FHIR).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from .actor import Actor
from .errors import Forbidden
from .messages import N_, Message, msg, nmsg
from .models import AuditEvent, Role
from .models.base import utcnow
from .services import Page, clamp_page

GENESIS = "0" * 64
ACTIONS = frozenset(
    {
        "login",
        "login-failed",
        "logout",
        "view",
        "download",
        "create",
        "update",
        "delete",
        "status",
        "join",
        "leave",
        "admin",
        "denied",
        "export",
    }
)
# Arbitrary constant naming the chain's lock among the database's advisory locks.
_PG_LOCK_KEY = 0x7E1E_A0D1_7C4A_1E01 & 0x7FFF_FFFF_FFFF_FFFF
_VERIFY_BATCH = 1000
_GAP = N_("thiếu sự kiện (số thứ tự bị đứt quãng)")
_BAD_LINK = N_("mã băm liên kết không khớp với sự kiện trước")
_BAD_HASH = N_("nội dung không khớp với mã băm đã lưu")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking the chain: ok with a count, or the first broken link."""

    ok: bool
    count: int
    broken_seq: int | None = None
    reason: str | None = None
    # The hash of the last event checked: written down elsewhere, it also reveals a cut tail.
    head_hash: str = GENESIS

    def describe(self) -> Message:
        """One line for the command line: the count, or where and why the chain breaks."""
        if self.ok:
            return nmsg(
                "Chuỗi nhật ký toàn vẹn: %(num)d sự kiện đã được kiểm tra; mã băm cuối: %(hash)s",
                "Chuỗi nhật ký toàn vẹn: %(num)d sự kiện đã được kiểm tra; mã băm cuối: %(hash)s",
                self.count,
                hash=self.head_hash,
            )
        return nmsg(
            "Chuỗi nhật ký bị phá vỡ tại sự kiện số %(seq)s: %(reason)s "
            "(%(num)d sự kiện trước đó hợp lệ)",
            "Chuỗi nhật ký bị phá vỡ tại sự kiện số %(seq)s: %(reason)s "
            "(%(num)d sự kiện trước đó hợp lệ)",
            self.count,
            seq=self.broken_seq,
            reason=msg(self.reason) if self.reason else "",
        )


def _json_safe(detail: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip through JSON so that what is hashed is exactly what the database gives back.
    if not detail:
        return {}
    out: dict[str, Any] = orjson.loads(orjson.dumps(detail, default=str))
    return out


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def content_hash(event: AuditEvent) -> str:
    """The hash an event must carry, from its prev_hash and its content."""
    content = {
        "seq": event.seq,
        "at": _iso(event.at),
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "actor_name": event.actor_name,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "patient_id": str(event.patient_id) if event.patient_id else None,
        "client_addr": event.client_addr,
        "outcome": event.outcome,
        "detail": event.detail,
    }
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(event.prev_hash.encode("ascii") + canonical).hexdigest()


async def _lock_head(session: AsyncSession) -> tuple[int, str]:
    """Serialise chain writers for the rest of the transaction and return (last seq, hash)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    elif bind.dialect.name == "sqlite":
        # A write statement opens the write transaction now, before the head is read, so a
        # concurrent writer waits instead of reading the same head.
        await session.execute(sa.update(AuditEvent).where(sa.false()).values(seq=AuditEvent.seq))
    row = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)  # type: ignore[attr-defined]
        )
    ).first()
    if row is None:
        return 0, GENESIS
    return int(row[0]), str(row[1])


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    object_type: str = "",
    object_id: object = None,
    patient_id: uuid.UUID | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the session; it commits with the caller's change."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    last_seq, last_hash = await _lock_head(session)
    event = AuditEvent(
        seq=last_seq + 1,
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor.username[:64],
        action=action,
        object_type=object_type[:40],
        object_id=None if object_id is None else str(object_id)[:64],
        patient_id=patient_id,
        client_addr=actor.client_addr[:64] if actor.client_addr else None,
        outcome=outcome[:20],
        detail=_json_safe(detail),
        prev_hash=last_hash,
        hash="",
    )
    event.hash = content_hash(event)
    session.add(event)
    await session.flush()
    return event


async def record_now(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    object_type: str = "",
    object_id: object = None,
    patient_id: uuid.UUID | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event and commit it at once (views, denials, failed sign-ins)."""
    event = await record(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        outcome=outcome,
        detail=detail,
    )
    await session.commit()
    return event


@dataclass(frozen=True, slots=True)
class Read:
    """One object an answer showed, and the patient it is about."""

    object_type: str
    object_id: object
    patient_id: uuid.UUID | None


async def record_reads(
    session: AsyncSession, *, actor: Actor, reads: Sequence[Read], detail: dict[str, Any]
) -> None:
    """Audit what one answer showed: a ``view`` event per object (so a patient's trail holds
    every list that named them), appended in one batch and one commit, not one per row."""
    if not reads:
        return
    last_seq, last_hash = await _lock_head(session)
    at = utcnow()
    safe = _json_safe(detail)
    events = []
    for read in reads:
        last_seq += 1
        event = AuditEvent(
            seq=last_seq,
            at=at,
            actor_id=actor.user_id,
            actor_name=actor.username[:64],
            action="view",
            object_type=read.object_type[:40],
            object_id=None if read.object_id is None else str(read.object_id)[:64],
            patient_id=read.patient_id,
            client_addr=actor.client_addr[:64] if actor.client_addr else None,
            outcome="ok",
            detail=safe,
            prev_hash=last_hash,
            hash="",
        )
        event.hash = last_hash = content_hash(event)
        events.append(event)
    session.add_all(events)
    await session.commit()


async def verify(session: AsyncSession) -> VerifyResult:
    """Walk the chain in seq order; report the first broken link or ok with the count."""
    expected_seq = 1
    prev = GENESIS
    count = 0
    while True:
        batch: Sequence[AuditEvent] = (
            (
                await session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.seq >= expected_seq)
                    .order_by(AuditEvent.seq)  # type: ignore[arg-type]
                    .limit(_VERIFY_BATCH)
                    .execution_options(populate_existing=True)
                )
            )
            .scalars()
            .all()
        )
        if not batch:
            return VerifyResult(ok=True, count=count, head_hash=prev)
        for ev in batch:
            if ev.seq != expected_seq:
                return VerifyResult(False, count, expected_seq, _GAP)
            if ev.prev_hash != prev:
                return VerifyResult(False, count, ev.seq, _BAD_LINK)
            if ev.hash != content_hash(ev):
                return VerifyResult(False, count, ev.seq, _BAD_HASH)
            prev = ev.hash
            expected_seq += 1
            count += 1


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
