"""What the administration screens share: the admin check, and the facility lists."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from records import access
from records.actor import Actor
from records.models import Facility
from records.services import facilities as facilities_svc

from ...keys import sessions_key
from ...security import require_actor

# What an administration screen is about, by the first path segment after /admin/.
_ADMIN_OBJECTS = {
    "facilities": "facility",
    "users": "user",
    "audit": "audit",
    "archives": "consultation",
}


async def require_admin(request: web.Request) -> Actor:
    """The signed-in admin; anyone else is refused with Forbidden, and the refusal audited."""
    who = require_actor(request)
    segment = request.path.removeprefix("/admin").strip("/").partition("/")[0]
    async with request.app[sessions_key]() as session:
        await access.require_admin(
            session,
            actor=who,
            object_type=_ADMIN_OBJECTS.get(segment, "admin"),
            object_id=request.match_info.get("id"),
        )
    return who


def as_text(model: BaseModel | None, names: tuple[str, ...]) -> dict[str, str]:
    """A record's fields as a form shows them (empty for a new one)."""
    if model is None:
        return dict.fromkeys(names, "")
    return {n: "" if getattr(model, n, None) is None else str(getattr(model, n)) for n in names}


async def all_facilities(request: web.Request) -> list[Facility]:
    """Every facility (at most 200), for the selects of the forms."""
    async with request.app[sessions_key]() as session:
        return (await facilities_svc.list_facilities(session=session, limit=200)).items


def facility_options(facilities: list[Facility], skip: uuid.UUID | None = None) -> list[Any]:
    """(id, "name (code)") of facilities for a select, leaving one out (a facility's own)."""
    return [(str(f.id), f"{f.name} ({f.code})") for f in facilities if f.id != skip]
