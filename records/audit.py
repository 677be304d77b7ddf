"""The append-only, hash-chained audit trail.

Every event stores the hash of the event before it (``prev_hash``, 64 zeros for the first) and
its own ``hash``: HMAC-SHA256, keyed with a secret kept outside the database (the session
maker's ``audit_key``), over ``prev_hash`` and a canonical JSON of its content (seq, time,
actor, action, object, patient, client address, outcome, detail). Editing or deleting any row
breaks the chain at that row, which ``verify`` reports; without the key, someone who can write
the database cannot compute the hashes of a rebuilt chain. Sessions made without a key (tools,
tests of the records alone) chain with plain SHA-256. ``seq`` is gap-free: writers take a
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
import hmac
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
from .db import AUDIT_KEY_INFO
from .errors import Invalid
from .messages import N_, Message, msg, nmsg
from .models import AuditEvent
from .models.base import utcnow

GENESIS = "0" * 64
ACTIONS = frozenset(
    {
        "login",
        "login-failed",
        "sign",
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
_UNKEYED = N_(
    "mã băm không có khóa bí mật (chuỗi từ trước khi có khóa: chạy «telemed audit rekey» "
    "một lần; nếu đã làm rồi thì chuỗi đã bị dựng lại)"
)
_HEAD_MISSING = N_("không còn sự kiện có mã băm đầu chuỗi đã xuất ra (chuỗi bị cắt hoặc dựng lại)")


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


def session_key(session: AsyncSession) -> bytes:
    """The audit key of a session's maker (empty: an unkeyed chain)."""
    key = session.info.get(AUDIT_KEY_INFO, b"")
    return key if isinstance(key, bytes) else b""


def content_hash(event: AuditEvent, key: bytes = b"") -> str:
    """The hash an event must carry, from its prev_hash and its content (HMAC with a key)."""
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
    data = event.prev_hash.encode("ascii") + canonical
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


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
    event.hash = content_hash(event, session_key(session))
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
    key = session_key(session)
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
        event.hash = last_hash = content_hash(event, key)
        events.append(event)
    session.add_all(events)
    await session.commit()


async def _events(session: AsyncSession) -> Any:
    """Every event in seq order, a batch at a time."""
    expected_seq = 1
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
            return
        for ev in batch:
            yield ev
        expected_seq = batch[-1].seq + 1


async def verify(session: AsyncSession, *, head: tuple[int, str] | None = None) -> VerifyResult:
    """Walk the chain in seq order; report the first broken link or ok with the count.

    ``head``: a (seq, hash) exported earlier (``telemed audit head``); the chain must still hold
    that event with that hash, so a cut tail or a chain rebuilt since is found too."""
    key = session_key(session)
    expected_seq = 1
    prev = GENESIS
    count = 0
    head_seen = head is None
    async for ev in _events(session):
        if ev.seq != expected_seq:
            return VerifyResult(False, count, expected_seq, _GAP)
        if ev.prev_hash != prev:
            return VerifyResult(False, count, ev.seq, _BAD_LINK)
        if not hmac.compare_digest(ev.hash, content_hash(ev, key)):
            unkeyed = key and ev.hash == content_hash(ev)
            return VerifyResult(False, count, ev.seq, _UNKEYED if unkeyed else _BAD_HASH)
        if head is not None and ev.seq == head[0]:
            if not hmac.compare_digest(ev.hash, head[1]):
                return VerifyResult(False, count, ev.seq, _HEAD_MISSING)
            head_seen = True
        prev = ev.hash
        expected_seq += 1
        count += 1
    if not head_seen and head is not None:
        return VerifyResult(False, count, head[0], _HEAD_MISSING)
    return VerifyResult(ok=True, count=count, head_hash=prev)


async def chain_head(session: AsyncSession) -> tuple[int, str]:
    """The last event's (seq, hash), to be written down outside the database."""
    row = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)  # type: ignore[attr-defined]
        )
    ).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


async def rekey(session: AsyncSession) -> int:
    """Key a chain written before the audit key existed, in one transaction: it must start with
    events that verify with plain SHA-256 and may go on with events already keyed (a server
    that ran on the new version before this was done); every event is hashed again with the key.
    Returns how many events were rehashed; Invalid when the chain is broken or keyed already."""
    key = session_key(session)
    if not key:
        raise Invalid(msg("Chưa có khóa nhật ký (TELEMED_AUDIT_KEY hoặc tệp audit_key)"))
    await _lock_head(session)
    prev_old = prev_new = GENESIS
    count = 0
    keyed_part = False
    async for ev in _events(session):
        linked = ev.seq == count + 1 and ev.prev_hash == prev_old
        plain = linked and not keyed_part and ev.hash == content_hash(ev)
        # The first event must be plain: a chain keyed from the start needs no re-key.
        keyed = linked and count > 0 and ev.hash == content_hash(ev, key)
        if not (plain or keyed):
            seq = ev.seq
            await session.rollback()
            raise Invalid(
                msg(
                    "Không thể gắn khóa: sự kiện số %(seq)s không thuộc một chuỗi băm thường "
                    "nguyên vẹn (hoặc chuỗi đã có khóa)",
                    seq=seq,
                )
            )
        keyed_part = keyed_part or not plain
        prev_old = ev.hash
        ev.prev_hash = prev_new
        ev.hash = prev_new = content_hash(ev, key)
        session.add(ev)
        count += 1
        if count % _VERIFY_BATCH == 0:
            await session.flush()
    await session.commit()
    return count
