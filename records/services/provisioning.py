"""Creating accounts with passwords, and the facts the command line prints."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import audit
from ..actor import Actor
from ..errors import Invalid, NotFound
from ..messages import msg
from ..models import Facility, Role, User, UserCreate
from . import auth, users

# The fixed demo usernames, in the order the README lists them.
DEMO_USERNAMES = (
    "admin",
    "dieuphoi.tinh",
    "bs.chonthanh",
    "bs.phuoclong",
    "cs.timmach",
    "cs.cdha",
    "cs.thankinh",
)


async def create_user_with_password(
    *, session: AsyncSession, data: UserCreate, password: str, actor: Actor
) -> User:
    """Create a user and set their first password; a weak password refuses before any write."""
    auth.validate_new_password(password, username=data.username)
    password_hash = await asyncio.to_thread(auth.hash_password, password)
    user = await users.create_user(session=session, data=data, actor=actor)
    user.password_hash = password_hash
    user.password_changed_at = user.created_at
    session.add(user)
    await audit.record(
        session,
        actor=actor,
        action="admin",
        object_type="user",
        object_id=user.id,
        detail={"change": "initial password"},
    )
    await session.commit()
    return user


async def add_user_with_password(
    *,
    session: AsyncSession,
    username: str,
    role: str,
    facility_code: str,
    full_name: str,
    title: str,
    specialty: str | None,
    password: str,
) -> User:
    """`telemed user add`: create a user at the facility with this code."""
    facility = (
        await session.execute(select(Facility).where(Facility.code == facility_code))
    ).scalar_one_or_none()
    if facility is None:
        raise Invalid(
            msg("Không có cơ sở y tế mã %(code)r", code=facility_code),
            fields={"facility": msg("Không tồn tại")},
        )
    try:
        data = UserCreate(
            username=username,
            full_name=full_name,
            title=title,
            role=Role(role),
            specialty=specialty,
            facility_id=facility.id,
        )
    except ValueError as exc:
        raise Invalid(
            msg("Thông tin người dùng không hợp lệ: %(problem)s", problem=str(exc))
        ) from None
    return await create_user_with_password(
        session=session, data=data, password=password, actor=Actor.system("cli")
    )


async def create_token_for_username(
    *, session: AsyncSession, username: str, ttl_hours: int
) -> tuple[str, datetime]:
    """`telemed token create`: a bearer token for an active user."""
    user = (
        await session.execute(select(User).where(User.username == username.strip().lower()))
    ).scalar_one_or_none()
    if user is None or not user.active:
        raise NotFound(msg("Không có người dùng đang hoạt động tên %(name)r", name=username))
    return await auth.create_api_token(
        session=session, user=user, ttl=timedelta(hours=ttl_hours), actor=Actor.system("cli")
    )


async def demo_accounts(*, session: AsyncSession) -> list[tuple[str, str, str]]:
    """(username, role, facility name) of the demo accounts that exist."""
    rows = await session.execute(
        select(User, Facility)
        .join(Facility, col(Facility.id) == col(User.facility_id))
        .where(col(User.username).in_(DEMO_USERNAMES))
    )
    found = {u.username: (u.username, str(u.role), f.name) for u, f in rows.all()}
    return [found[name] for name in DEMO_USERNAMES if name in found]


async def database_is_empty(*, session: AsyncSession) -> bool:
    """Whether no facility and no user exist yet (the demo may be seeded)."""
    facility = (await session.execute(select(Facility.id).limit(1))).first()
    user = (await session.execute(select(User.id).limit(1))).first()
    return facility is None and user is None


async def facility_names(*, session: AsyncSession) -> list[tuple[str, str]]:
    """(code, name) of every facility, by code."""
    rows = await session.execute(select(Facility.code, Facility.name).order_by(Facility.code))
    return [(code, name) for code, name in rows.all()]
