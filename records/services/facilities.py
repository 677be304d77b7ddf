"""Facilities on the referral line: commune → district → provincial → central."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid, NotFound
from ..messages import msg
from ..models import Facility, FacilityCreate, FacilityLevel, FacilityUpdate
from ..text import fold
from . import Page, clamp_page
from .changes import refuse_nulls


async def _check_parent(
    session: AsyncSession, parent_id: uuid.UUID | None, level: FacilityLevel
) -> None:
    if parent_id is None:
        return
    parent = await session.get(Facility, parent_id)
    if parent is None:
        raise Invalid(
            msg("Cơ sở tuyến trên không tồn tại"), fields={"parent_id": msg("Cơ sở không tồn tại")}
        )
    if FacilityLevel(parent.level).rank <= FacilityLevel(level).rank:
        problem = msg("Cơ sở tuyến trên phải ở tuyến cao hơn")
        raise Invalid(problem, fields={"parent_id": problem})


async def create_facility(*, session: AsyncSession, data: FacilityCreate, actor: Actor) -> Facility:
    """Add a facility (admin); its code is unique and its parent sits higher on the line."""
    await access.require_admin(session, actor=actor, object_type="facility")
    data = FacilityCreate.model_validate(data.model_dump())
    existing = await session.execute(select(Facility.id).where(Facility.code == data.code))
    if existing.first() is not None:
        raise Conflict(msg("Mã cơ sở đã tồn tại"), fields={"code": msg("Mã cơ sở đã tồn tại")})
    await _check_parent(session, data.parent_id, data.level)
    facility = Facility.model_validate(data)
    session.add(facility)
    await audit.record(
        session,
        actor=actor,
        action="create",
        object_type="facility",
        object_id=facility.id,
        detail={"code": facility.code, "level": facility.level},
    )
    await session.commit()
    return facility


async def update_facility(
    *, session: AsyncSession, facility_id: uuid.UUID, data: FacilityUpdate, actor: Actor
) -> Facility:
    """Change a facility's name, address or parent (admin)."""
    await access.require_admin(session, actor=actor, object_type="facility", object_id=facility_id)
    facility = await get_facility(session=session, facility_id=facility_id)
    changes = data.model_dump(exclude_unset=True)
    if "parent_id" in changes:
        if changes["parent_id"] == facility.id:
            itself = msg("Cơ sở không thể là tuyến trên của chính nó")
            raise Invalid(itself, fields={"parent_id": itself})
        await _check_parent(session, changes["parent_id"], FacilityLevel(facility.level))
    refuse_nulls(Facility, changes)
    for key, value in changes.items():
        setattr(facility, key, value)
    session.add(facility)
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="facility",
        object_id=facility.id,
        detail={"fields": sorted(changes)},
    )
    await session.commit()
    return facility


async def get_facility(*, session: AsyncSession, facility_id: uuid.UUID) -> Facility:
    """One facility (facilities are public knowledge within the system)."""
    facility = await session.get(Facility, facility_id)
    if facility is None:
        raise NotFound(msg("Không tìm thấy cơ sở y tế"))
    return facility


async def list_facilities(
    *,
    session: AsyncSession,
    level: FacilityLevel | None = None,
    q: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> Page[Facility]:
    """Facilities by level then name, optionally matching a name or code (accent-insensitive)."""
    lim, off = clamp_page(limit, offset)
    stmt = select(Facility)
    if level is not None:
        stmt = stmt.where(Facility.level == level)
    rows = list((await session.execute(stmt)).scalars().all())
    if q and q.strip():
        needle = fold(q)
        rows = [f for f in rows if needle in fold(f.name) or needle in f.code.lower()]
    # A few hundred facilities at most: sorting and folding in Python keeps it portable.
    rows.sort(key=lambda f: (-FacilityLevel(f.level).rank, fold(f.name)))
    return Page(items=rows[off : off + lim], total=len(rows), limit=lim, offset=off)


async def facilities_above(
    *, session: AsyncSession, facility: Facility | uuid.UUID
) -> list[Facility]:
    """Where a facility may send requests: every facility higher on the line, its own line first."""
    if isinstance(facility, uuid.UUID):
        facility = await get_facility(session=session, facility_id=facility)
    rank = FacilityLevel(facility.level).rank
    higher = [FacilityLevel(lv) for lv in FacilityLevel if FacilityLevel(lv).rank > rank]
    if not higher:
        return []
    rows = list(
        (await session.execute(select(Facility).where(col(Facility.level).in_(higher))))
        .scalars()
        .all()
    )
    ancestors: dict[uuid.UUID, int] = {}
    by_id: dict[uuid.UUID, Any] = {f.id: f for f in rows}
    parent_id, depth = facility.parent_id, 0
    while parent_id is not None and parent_id in by_id and parent_id not in ancestors:
        ancestors[parent_id] = depth
        parent_id, depth = by_id[parent_id].parent_id, depth + 1
    rows.sort(
        key=lambda f: (
            ancestors.get(f.id, len(ancestors) + 1),
            FacilityLevel(f.level).rank,
            fold(f.name),
        )
    )
    return rows
