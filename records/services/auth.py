"""Signing in and staying signed in: browser sessions and API tokens.

Secrets handed out (session ids, bearer tokens) are 256 random bits; only their SHA-256 is
stored. Password checks go through ``login_throttle`` (delays, locks, equal answers). Join
tokens for the rooms (``join_tokens``) and the care of accounts (``accounts``: password
changes and resets, sign-outs, unlocks) are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import audit
from ..actor import Actor
from ..errors import Invalid, Unauthenticated
from ..messages import msg
from ..models import ApiToken, JoinToken, User, UserSession
from ..models.base import utcnow
from ..passwords import hash_password, new_secret, secret_hash, validate_new_password
from .accounts import (
    change_password,
    end_all_sessions,
    end_sessions_for,
    reset_password,
    unlock_user,
)
from .join_tokens import consume_join_token, issue_join_token
from .login_throttle import (
    ACCOUNT_LOCKED,
    BAD_CREDENTIALS,
    FREE_FAILURES,
    LOCK_AFTER,
    check_password,
)

__all__ = [
    "ACCOUNT_LOCKED",
    "BAD_CREDENTIALS",
    "FREE_FAILURES",
    "LOCK_AFTER",
    "SignedIn",
    "authenticate",
    "change_password",
    "consume_join_token",
    "create_api_token",
    "create_session",
    "end_all_sessions",
    "end_sessions_for",
    "hash_password",
    "issue_join_token",
    "login",
    "logout",
    "purge_expired",
    "reset_password",
    "resolve_api_token",
    "resolve_session_cookie",
    "revoke_api_token",
    "secret_hash",
    "token_login",
    "unlock_user",
    "validate_new_password",
]

SESSION_IDLE = timedelta(minutes=30)
SESSION_LIFETIME = timedelta(hours=12)
# Sliding idle expiry writes last_seen_at at most this often, not on every request.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new browser session: the cookie value is returned once and stored only as a hash."""

    user: User
    session_id: str
    expires_at: datetime


async def _checked_login(
    session: AsyncSession, *, username: str, password: str, client_addr: str | None, via: str
) -> User:
    """Check the credentials (throttled, failures audited) and audit the login, uncommitted."""
    user = await check_password(
        session=session,
        username=username,
        password=password,
        client_addr=client_addr,
        purpose=via,
    )
    await audit.record(
        session,
        actor=Actor.of(user, client_addr=client_addr),
        action="login",
        object_type="user",
        object_id=user.id,
        detail={"via": via},
    )
    return user


async def authenticate(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    client_addr: str | None = None,
    purpose: str = "session",
) -> User:
    """The user these credentials name, or Unauthenticated / Throttled (audited either way)."""
    user = await _checked_login(
        session, username=username, password=password, client_addr=client_addr, via=purpose
    )
    await session.commit()
    return user


async def _add_session(
    session: AsyncSession,
    *,
    user: User,
    client_addr: str | None,
    user_agent: str | None,
    idle: timedelta,
    lifetime: timedelta,
) -> SignedIn:
    raw = new_secret()
    now = utcnow()
    row = UserSession(
        id_hash=secret_hash(raw),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        idle_seconds=max(60, int(idle.total_seconds())),
        client_addr=client_addr[:64] if client_addr else None,
        user_agent=user_agent[:300] if user_agent else None,
    )
    session.add(row)
    await session.flush()
    return SignedIn(user=user, session_id=raw, expires_at=row.expires_at)


async def _drop_session(session: AsyncSession, session_id: str | None) -> None:
    if session_id:
        await session.execute(
            sa.delete(UserSession).where(col(UserSession.id_hash) == secret_hash(session_id))
        )


async def login(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    client_addr: str | None = None,
    user_agent: str | None = None,
    idle: timedelta = SESSION_IDLE,
    lifetime: timedelta = SESSION_LIFETIME,
    replace_session_id: str | None = None,
) -> SignedIn:
    """Check the credentials and open a new browser session (any previous one is ended)."""
    user = await _checked_login(
        session, username=username, password=password, client_addr=client_addr, via="session"
    )
    await _drop_session(session, replace_session_id)
    signed_in = await _add_session(
        session,
        user=user,
        client_addr=client_addr,
        user_agent=user_agent,
        idle=idle,
        lifetime=lifetime,
    )
    await session.commit()
    return signed_in


async def create_session(
    *,
    session: AsyncSession,
    user: User,
    client_addr: str | None = None,
    user_agent: str | None = None,
    idle: timedelta = SESSION_IDLE,
    lifetime: timedelta = SESSION_LIFETIME,
    replace_session_id: str | None = None,
) -> SignedIn:
    """Open a new session with a fresh id for an already verified user, ending the one replaced."""
    if not user.active or user.locked_at is not None:
        raise Unauthenticated(msg("Tài khoản không còn hoạt động"))
    await _drop_session(session, replace_session_id)
    signed_in = await _add_session(
        session,
        user=user,
        client_addr=client_addr,
        user_agent=user_agent,
        idle=idle,
        lifetime=lifetime,
    )
    await session.commit()
    return signed_in


async def logout(*, session: AsyncSession, session_id: str, client_addr: str | None = None) -> None:
    """End a browser session; its cookie never works again. Unknown ids are ignored."""
    row = (
        await session.execute(
            select(UserSession).where(col(UserSession.id_hash) == secret_hash(session_id))
        )
    ).scalar_one_or_none()
    if row is None:
        return
    user = await session.get(User, row.user_id)
    await session.delete(row)
    if user is not None:
        await audit.record(
            session,
            actor=Actor.of(user, client_addr=client_addr),
            action="logout",
            object_type="user",
            object_id=user.id,
        )
    await session.commit()


def _usable(user: User | None) -> User | None:
    if user is None or not user.active or user.locked_at is not None:
        return None
    return user


async def resolve_session_cookie(
    *, session: AsyncSession, cookie_value: str, slide: bool = True
) -> User | None:
    """The user of a live session cookie, sliding its idle expiry; None if unknown or expired.

    ``slide=False`` checks without counting as activity: a page left open on a live stream
    must not keep its session alive forever."""
    if not cookie_value or len(cookie_value) > 200:
        return None
    now = utcnow()
    found = (
        await session.execute(
            select(UserSession, User)
            .join(User, col(User.id) == col(UserSession.user_id))
            .where(col(UserSession.id_hash) == secret_hash(cookie_value))
            .execution_options(populate_existing=True)
        )
    ).first()
    if found is None:
        return None
    row, user = found
    idle_end = row.last_seen_at + timedelta(seconds=row.idle_seconds)
    if now >= row.expires_at or now >= idle_end:
        await session.execute(sa.delete(UserSession).where(col(UserSession.id) == row.id))
        await session.commit()
        return None
    if _usable(user) is None:
        return None
    if slide and now - row.last_seen_at >= TOUCH_EVERY:
        await session.execute(
            sa.update(UserSession).where(col(UserSession.id) == row.id).values(last_seen_at=now)
        )
        await session.commit()
    return user


async def create_api_token(
    *, session: AsyncSession, user: User, ttl: timedelta, actor: Actor | None = None
) -> tuple[str, datetime]:
    """A new bearer token for the user: (token, expires_at); only its hash is kept."""
    if _usable(user) is None:
        raise Unauthenticated(msg("Tài khoản không còn hoạt động"))
    if ttl <= timedelta(0):
        raise Invalid(msg("Thời hạn của mã truy cập phải lớn hơn 0"))
    who = actor or Actor.of(user)
    raw = new_secret()
    now = utcnow()
    token = ApiToken(
        token_hash=secret_hash(raw),
        user_id=user.id,
        created_at=now,
        expires_at=now + ttl,
        created_by=who.username[:64],
    )
    session.add(token)
    await audit.record(
        session,
        actor=who,
        action="create",
        object_type="api_token",
        object_id=token.id,
        detail={"user": user.username, "expires_at": token.expires_at.isoformat()},
    )
    await session.commit()
    return raw, token.expires_at


async def token_login(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    ttl: timedelta,
    client_addr: str | None = None,
) -> tuple[str, datetime]:
    """Exchange a username and password for a bearer token (throttled like any sign-in)."""
    user = await authenticate(
        session=session,
        username=username,
        password=password,
        client_addr=client_addr,
        purpose="token",
    )
    return await create_api_token(
        session=session, user=user, ttl=ttl, actor=Actor.of(user, client_addr=client_addr)
    )


async def resolve_api_token(*, session: AsyncSession, token: str) -> User | None:
    """The user of a live bearer token, or None."""
    if not token or len(token) > 200:
        return None
    found = (
        await session.execute(
            # Only the expiry of the token row: it is not needed as an object.
            select(col(ApiToken.expires_at), User)
            .join(User, col(User.id) == col(ApiToken.user_id))
            .where(col(ApiToken.token_hash) == secret_hash(token))
            .execution_options(populate_existing=True)
        )
    ).first()
    if found is None or utcnow() >= found[0]:
        return None
    return _usable(found[1])


async def revoke_api_token(*, session: AsyncSession, token: str, actor: Actor) -> None:
    """Revoke a bearer token; it is refused from now on."""
    row = (
        await session.execute(
            select(ApiToken).where(col(ApiToken.token_hash) == secret_hash(token))
        )
    ).scalar_one_or_none()
    if row is None:
        return
    await session.delete(row)
    await audit.record(
        session, actor=actor, action="delete", object_type="api_token", object_id=row.id
    )
    await session.commit()


async def purge_expired(*, session: AsyncSession) -> int:
    """Delete expired sessions, tokens and join tokens; how many rows went."""
    now = utcnow()
    total = 0
    for stmt in (
        sa.delete(UserSession).where(col(UserSession.expires_at) <= now),
        sa.delete(ApiToken).where(col(ApiToken.expires_at) <= now),
        sa.delete(JoinToken).where(col(JoinToken.expires_at) <= now - timedelta(days=1)),
    ):
        result: Any = await session.execute(stmt)
        total += int(result.rowcount or 0)
    await session.commit()
    return total
