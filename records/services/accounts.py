"""Looking after accounts: one's own password, and the admin's sign-outs, unlocks and resets.

Changing or resetting a password ends every other session and API token of the account.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .. import access, audit
from ..actor import Actor
from ..errors import Invalid, NotFound, Unauthenticated
from ..messages import N_, msg
from ..models import ApiToken, JoinToken, LoginThrottle, User, UserSession
from ..models.base import utcnow
from ..passwords import hash_password, secret_hash, validate_new_password
from .login_throttle import ACCOUNT_LOCKED, account_key, check_password

_USER_NOT_FOUND = N_("Không tìm thấy người dùng")


async def end_sessions_for(
    session: AsyncSession, user_id: uuid.UUID, *, keep_session_id: str | None = None
) -> int:
    """Delete a user's sessions, API tokens and unused join tokens; the caller commits."""
    stmt = sa.delete(UserSession).where(col(UserSession.user_id) == user_id)
    if keep_session_id:
        stmt = stmt.where(col(UserSession.id_hash) != secret_hash(keep_session_id))
    ended: Any = await session.execute(stmt)
    count = int(ended.rowcount or 0)
    tokens: Any = await session.execute(sa.delete(ApiToken).where(col(ApiToken.user_id) == user_id))
    await session.execute(
        sa.delete(JoinToken).where(
            col(JoinToken.user_id) == user_id, col(JoinToken.used_at).is_(None)
        )
    )
    return count + int(tokens.rowcount or 0)


async def _get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFound(msg(_USER_NOT_FOUND))
    return user


async def end_all_sessions(*, session: AsyncSession, user_id: uuid.UUID, actor: Actor) -> int:
    """Sign a user out everywhere (admin): sessions and API tokens; how many were ended."""
    await access.require_admin(session, actor=actor, object_type="user", object_id=user_id)
    user = await _get_user(session, user_id)
    count = await end_sessions_for(session, user.id)
    await audit.record(
        session,
        actor=actor,
        action="admin",
        object_type="user",
        object_id=user.id,
        detail={"op": "end-sessions", "ended": count},
    )
    await session.commit()
    return count


async def unlock_user(*, session: AsyncSession, user_id: uuid.UUID, actor: Actor) -> User:
    """Lift the lock that repeated failed sign-ins put on an account (admin)."""
    await access.require_admin(session, actor=actor, object_type="user", object_id=user_id)
    user = await _get_user(session, user_id)
    await session.execute(
        sa.delete(LoginThrottle).where(col(LoginThrottle.key) == account_key(user.username))
    )
    user.locked_at = None
    user.failed_logins = 0
    session.add(user)
    await audit.record(
        session,
        actor=actor,
        action="admin",
        object_type="user",
        object_id=user.id,
        detail={"op": "unlock"},
    )
    await session.commit()
    return user


async def _set_password(session: AsyncSession, user: User, new_password: str) -> None:
    validate_new_password(new_password, username=user.username)
    user.password_hash = await asyncio.to_thread(hash_password, new_password)
    user.password_changed_at = utcnow()
    session.add(user)


async def change_password(
    *,
    session: AsyncSession,
    actor: Actor,
    current_password: str,
    new_password: str,
    keep_session_id: str | None = None,
) -> None:
    """Change one's own password; the current one is checked (and throttled) first.

    Every other session and token of the user ends; the one in ``keep_session_id`` stays.
    """
    if actor.user_id is None:
        raise Unauthenticated(msg("Vui lòng đăng nhập"))
    user = await _get_user(session, actor.user_id)
    validate_new_password(new_password, username=user.username)
    try:
        await check_password(
            session=session,
            username=user.username,
            password=current_password,
            client_addr=actor.client_addr,
            purpose="password-change",
        )
    except Unauthenticated as exc:
        if exc.message == ACCOUNT_LOCKED:
            raise
        wrong = msg("Mật khẩu hiện tại không đúng")
        raise Invalid(wrong, fields={"current_password": wrong}) from None
    if current_password == new_password:
        same = msg("Mật khẩu mới phải khác mật khẩu hiện tại")
        raise Invalid(same, fields={"new_password": same})
    await _set_password(session, user, new_password)
    await end_sessions_for(session, user.id, keep_session_id=keep_session_id)
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="user",
        object_id=user.id,
        detail={"op": "password-change"},
    )
    await session.commit()


async def reset_password(
    *, session: AsyncSession, user_id: uuid.UUID, new_password: str, actor: Actor
) -> User:
    """Set a user's password (admin); every session and token of the user ends."""
    await access.require_admin(session, actor=actor, object_type="user", object_id=user_id)
    user = await _get_user(session, user_id)
    try:
        await _set_password(session, user, new_password)
    except Invalid as exc:
        raise Invalid(exc.text, fields={"new_password": exc.text}) from None
    await end_sessions_for(session, user.id)
    await audit.record(
        session,
        actor=actor,
        action="admin",
        object_type="user",
        object_id=user.id,
        detail={"op": "password-reset"},
    )
    await session.commit()
    return user
