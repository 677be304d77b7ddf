"""Single-use, short-lived tickets into one consultation room, for the signalling WebSocket."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import Unauthenticated
from ..messages import msg
from ..models import JoinToken
from ..models.base import utcnow
from ..passwords import new_secret, secret_hash


async def issue_join_token(
    *, session: AsyncSession, user_id: uuid.UUID | None, room_id: str, ttl_seconds: int
) -> tuple[str, datetime]:
    """A single-use ticket into one room for one user: (token, expires_at)."""
    if user_id is None:
        raise Unauthenticated(msg("Vui lòng đăng nhập"))
    raw = new_secret()
    now = utcnow()
    expires_at = now + timedelta(seconds=max(1, ttl_seconds))
    # A plain INSERT: the ticket is never read back as an object, so the ORM's unit of work
    # (a measurable share of a join's cost) is not needed.
    await session.execute(
        sa.insert(JoinToken).values(
            id=uuid.uuid4(),
            token_hash=secret_hash(raw),
            user_id=user_id,
            room_id=room_id,
            created_at=now,
            expires_at=expires_at,
            used_at=None,
        )
    )
    await session.commit()
    return raw, expires_at


async def spend_join_token(*, session: AsyncSession, room_id: str, token: str) -> uuid.UUID | None:
    """Mark a join token used without committing: its user id, None if it does not open the room.

    The caller commits before it answers, so the ticket stays spent whatever it decides.
    """
    if not token or len(token) > 200:
        return None
    now = utcnow()
    t = JoinToken.__table__.c  # type: ignore[attr-defined]
    # One conditional UPDATE: of two racing sockets, exactly one sees a row.
    row = (
        await session.execute(
            sa.update(JoinToken)
            .where(
                t.token_hash == secret_hash(token),
                t.room_id == room_id,
                t.used_at.is_(None),
                t.expires_at > now,
            )
            .values(used_at=now)
            .returning(t.user_id)
        )
    ).first()
    if row is None:
        return None
    user_id: uuid.UUID = row[0]
    return user_id


async def consume_join_token(*, session: AsyncSession, room_id: str, token: str) -> uuid.UUID:
    """Spend a join token: its user id; Unauthenticated if unknown, expired, used or elsewhere."""
    if not token or len(token) > 200:
        raise Unauthenticated(msg("Mã vào phòng không hợp lệ"))
    user_id = await spend_join_token(session=session, room_id=room_id, token=token)
    await session.commit()
    if user_id is None:
        raise Unauthenticated(msg("Mã vào phòng không hợp lệ, đã hết hạn hoặc đã được dùng"))
    return user_id
