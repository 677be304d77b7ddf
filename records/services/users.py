"""People who sign in: created and managed by admins, searched by everyone who invites."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid, NotFound
from ..events import UserDisabled, announce
from ..messages import msg
from ..models import Facility, Role, User, UserCreate, UserUpdate
from ..text import fold
from . import Page, clamp_page
from .accounts import end_sessions_for
from .changes import refuse_nulls


async def _check_facility(session: AsyncSession, facility_id: uuid.UUID) -> None:
    if await session.get(Facility, facility_id) is None:
        raise Invalid(
            msg("Cơ sở y tế không tồn tại"), fields={"facility_id": msg("Cơ sở không tồn tại")}
        )


async def create_user(*, session: AsyncSession, data: UserCreate, actor: Actor) -> User:
    """Add a user (admin); the username is unique and the facility must exist."""
    await access.require_admin(session, actor=actor, object_type="user")
    data = UserCreate.model_validate(data.model_dump())
    taken = await session.execute(select(User.id).where(User.username == data.username))
    if taken.first() is not None:
        problem = msg("Tên đăng nhập đã được sử dụng")
        raise Conflict(problem, fields={"username": problem})
    await _check_facility(session, data.facility_id)
    user = User.model_validate(data)
    session.add(user)
    await audit.record(
        session,
        actor=actor,
        action="admin",
        object_type="user",
        object_id=user.id,
        detail={"op": "create", "username": user.username, "role": user.role},
    )
    await session.commit()
    return user


async def update_user(
    *, session: AsyncSession, user_id: uuid.UUID, data: UserUpdate, actor: Actor
) -> User:
    """Change a user's details, role, facility or activation (admin)."""
    await access.require_admin(session, actor=actor, object_type="user", object_id=user_id)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(msg("Không tìm thấy người dùng"))
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(User, changes)
    if "facility_id" in changes:
        await _check_facility(session, changes["facility_id"])
    if actor.user_id == user.id and changes.get("active") is False:
        raise Conflict(msg("Không thể tự khóa tài khoản của mình"))
    disabled = changes.get("active") is False and user.active
    for key, value in changes.items():
        setattr(user, key, value)
    if changes.get("active") is False:
        # A disabled account is signed out everywhere at once, API tokens included.
        await end_sessions_for(session, user.id)
    session.add(user)
    await audit.record(
        session,
        actor=actor,
        action="admin",
        object_type="user",
        object_id=user.id,
        detail={"op": "update", "fields": sorted(changes)},
    )
    await session.commit()
    if disabled:
        await announce(session, UserDisabled(actor_id=actor.user_id, user_id=user.id))
    return user


async def set_active(
    *, session: AsyncSession, user_id: uuid.UUID, active: bool, actor: Actor
) -> User:
    """Enable or disable a user's sign-in (admin)."""
    return await update_user(
        session=session, user_id=user_id, data=UserUpdate(active=active), actor=actor
    )


async def get_user(*, session: AsyncSession, user_id: uuid.UUID, actor: Actor) -> User:
    """One user; others than admins see only active colleagues."""
    user = await session.get(User, user_id)
    if user is None or (not user.active and not _is_admin(actor)):
        raise NotFound(msg("Không tìm thấy người dùng"))
    return user


def _is_admin(actor: Actor) -> bool:
    return actor.is_system or actor.role == Role.admin


async def list_users(
    *,
    session: AsyncSession,
    actor: Actor,
    role: Role | None = None,
    facility_id: uuid.UUID | None = None,
    specialty: str | None = None,
    q: str | None = None,
    include_inactive: bool = False,
    limit: int | None = None,
    offset: int | None = None,
) -> Page[User]:
    """Users by name: for admins, and for coordinators and doctors searching invitees."""
    await access.require_role(
        session,
        actor=actor,
        roles=(Role.admin, Role.coordinator, Role.doctor),
        object_type="user",
        need="list",
        message=msg("Bạn không có quyền tra cứu danh sách người dùng"),
    )
    lim, off = clamp_page(limit, offset)
    conds: list[Any] = []
    if role is not None:
        conds.append(User.role == role)
    if facility_id is not None:
        conds.append(User.facility_id == facility_id)
    if not (include_inactive and _is_admin(actor)):
        conds.append(col(User.active).is_(True))
    stmt = select(User, Facility.name).join(Facility, col(Facility.id) == User.facility_id)
    rows = (await session.execute(stmt.where(sa.and_(sa.true(), *conds)))).all()
    users: list[tuple[str, User]] = []
    needle = fold(q) if q and q.strip() else ""
    spec = fold(specialty) if specialty and specialty.strip() else ""
    for user, facility_name in rows:
        if spec and spec not in fold(user.specialty or ""):
            continue
        # Names are not stored folded; folding a facility's staff in Python is cheap and portable.
        haystack = " ".join(
            [fold(user.full_name), user.username, fold(user.specialty or ""), fold(facility_name)]
        )
        if needle and not all(word in haystack for word in needle.split()):
            continue
        users.append((fold(user.full_name), user))
    users.sort(key=lambda pair: (pair[0], pair[1].username))
    items = [u for _, u in users[off : off + lim]]
    return Page(items=items, total=len(users), limit=lim, offset=off)
