"""Failed sign-ins, counted in the database per attempted username and per client address.

An attempt claims its place before the password is checked (one atomic UPDATE that refuses while
the key is blocked), so parallel guesses cannot slip past the delay, and every server process
sees the same counts. After ``FREE_FAILURES`` failures each further one doubles the wait, up to
15 minutes; ``LOCK_AFTER`` failures lock the account until an admin unlocks it. Unknown
usernames are counted, delayed and locked exactly like real ones, and the password check costs
the same time, so the answers never tell whether an account exists.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import audit
from ..actor import Actor
from ..errors import Throttled, Unauthenticated
from ..messages import N_, Message, msg, nmsg
from ..models import LoginThrottle, User
from ..models.base import utcnow
from ..passwords import dummy_verify, hash_password, needs_rehash, verify_password

FREE_FAILURES = 5
LOCK_AFTER = 100
MAX_DELAY_SECONDS = 15 * 60
# A counter that saw no failure for this long starts again (an account lock never does).
QUIET_RESET = timedelta(hours=1)

BAD_CREDENTIALS = N_("Tên đăng nhập hoặc mật khẩu không đúng")
ACCOUNT_LOCKED = N_(
    "Tài khoản tạm khóa do đăng nhập sai quá nhiều lần. Vui lòng liên hệ quản trị viên"
)


def too_many(seconds: int) -> Message:
    """The refusal of a sign-in attempted before its wait is over."""
    return nmsg(
        "Đăng nhập sai nhiều lần. Vui lòng thử lại sau %(num)d giây",
        "Đăng nhập sai nhiều lần. Vui lòng thử lại sau %(num)d giây",
        seconds,
    )


def failure_delay(failures: int) -> float:
    """Seconds to wait after this many failures: none for the first few, then doubling."""
    if failures < FREE_FAILURES:
        return 0.0
    return float(min(2 ** min(failures - FREE_FAILURES, 20), MAX_DELAY_SECONDS))


def _anonymous(client_addr: str | None) -> Actor:
    # Audit only: who failed to sign in is not anyone yet (never used for access decisions).
    return Actor(
        user_id=None, username="anonymous", role=None, facility_id=None, client_addr=client_addr
    )


def account_key(username: str) -> str:
    """The throttle key of an attempted username (whether or not the account exists)."""
    return "u:" + username.strip().lower()[:150]


def _address_key(client_addr: str | None) -> str:
    return "a:" + (client_addr or "-")[:64]


async def _claim(session: AsyncSession, key: str, now: datetime) -> int | None:
    """Count an attempt on a key unless it is blocked; the new count, or None when blocked."""
    postgres = session.get_bind().dialect.name == "postgresql"
    insert: Any = postgresql.insert if postgres else sqlite.insert
    await session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    t = LoginThrottle.__table__.c  # type: ignore[attr-defined]
    row = (
        await session.execute(
            sa.update(LoginThrottle)
            .where(
                t.key == key,
                t.locked_at.is_(None),
                sa.or_(t.blocked_until.is_(None), t.blocked_until <= now),
            )
            .values(
                failures=sa.case((t.last_failure_at < now - QUIET_RESET, 1), else_=t.failures + 1),
                last_failure_at=now,
            )
            .returning(t.failures)
        )
    ).first()
    if row is None:
        return None
    failures = int(row[0])
    await session.execute(
        sa.update(LoginThrottle)
        .where(t.key == key)
        .values(blocked_until=now + timedelta(seconds=failure_delay(failures)))
    )
    return failures


async def _refusal(session: AsyncSession, keys: list[str], now: datetime) -> Exception | None:
    """The answer for a blocked or locked key, or None when every key may try now."""
    rows = (
        (
            await session.execute(
                select(LoginThrottle)
                .where(col(LoginThrottle.key).in_(keys))
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    if any(r.locked_at is not None for r in rows):
        return Unauthenticated(msg(ACCOUNT_LOCKED))
    waits = [
        (r.blocked_until - now).total_seconds()
        for r in rows
        if r.blocked_until is not None and r.blocked_until > now
    ]
    if not waits:
        return None
    wait = max(max(waits), 1.0)
    return Throttled(too_many(int(wait + 0.999)), retry_after=wait)


def _reason(user: User | None, password_ok: bool) -> str:
    if user is None:
        return "unknown-user"
    if user.password_hash is None:
        return "no-password"
    if not password_ok:
        return "bad-password"
    return "inactive" if not user.active else "locked"


async def check_password(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    client_addr: str | None,
    purpose: str,
) -> User:
    """Throttle, verify and (on success) reset counters and rehash; the caller commits."""
    name = username.strip().lower()
    now = utcnow()
    keys = [account_key(name), _address_key(client_addr)]
    refusal = await _refusal(session, keys, now)
    counts = [] if refusal else [await _claim(session, key, now) for key in keys]
    if refusal is None and None in counts:
        # Another attempt got in between the look and the claim.
        refusal = await _refusal(session, keys, now) or Throttled(too_many(1), retry_after=1.0)
    if refusal is not None:
        # Refused before the password was even looked at; still one event per attempt.
        await audit.record(
            session,
            actor=_anonymous(client_addr),
            action="login-failed",
            object_type="user",
            outcome="locked" if isinstance(refusal, Unauthenticated) else "throttled",
            detail={"username": name[:64], "reason": "throttled", "via": purpose},
        )
    await session.commit()
    if refusal is not None:
        raise refusal
    user = (
        await session.execute(
            select(User).where(User.username == name).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    stored = user.password_hash if user is not None else None
    if stored is None:
        await asyncio.to_thread(dummy_verify, password)
        ok = False
    else:
        ok = await asyncio.to_thread(verify_password, stored, password)
    if ok and user is not None and user.active and user.locked_at is None:
        t = LoginThrottle.__table__.c  # type: ignore[attr-defined]
        await session.execute(sa.delete(LoginThrottle).where(t.key == keys[0]))
        await session.execute(
            sa.update(LoginThrottle)
            .where(t.key == keys[1])
            .values(failures=sa.case((t.failures > 0, t.failures - 1), else_=0), blocked_until=None)
        )
        user.failed_logins = 0
        if stored is not None and needs_rehash(stored):
            user.password_hash = await asyncio.to_thread(hash_password, password)
        session.add(user)
        return user
    account_failures = counts[0] or 0
    already_locked = user is not None and user.locked_at is not None
    locked = account_failures >= LOCK_AFTER or already_locked
    if locked:
        t = LoginThrottle.__table__.c  # type: ignore[attr-defined]
        await session.execute(
            sa.update(LoginThrottle).where(t.key == keys[0]).values(locked_at=now)
        )
    if user is not None:
        user.failed_logins = account_failures
        if locked and user.locked_at is None:
            user.locked_at = now
        session.add(user)
    reason = _reason(user, ok)
    await audit.record_now(
        session,
        actor=_anonymous(client_addr),
        action="login-failed",
        object_type="user",
        object_id=user.id if user is not None else None,
        outcome="locked" if locked else "failed",
        detail={
            "username": name[:64],
            "reason": reason,
            "via": purpose,
            "failures": account_failures,
        },
    )
    if locked:
        raise Unauthenticated(msg(ACCOUNT_LOCKED))
    raise Unauthenticated(msg(BAD_CREDENTIALS))
