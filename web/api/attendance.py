"""Who was in a consultation's room: one row per person, with every interval."""

from __future__ import annotations

from aiohttp import web

from records.services import attendance as svc

from .common import actor, json, path_uuid, sessions
from .registry import ApiRoutes

routes = ApiRoutes(tag="attendance")


@routes.route(
    "GET",
    "/api/v1/consultations/{id}/attendance",
    name="api-consultation-attendance",
    summary="One row per person who was in the room: role, connection point, every interval",
)
async def attendance(request: web.Request) -> web.Response:
    """The attendance of a consultation."""
    async with sessions(request)() as session:
        rows = await svc.read_attendance(
            session=session, consultation_id=path_uuid(request), actor=actor(request)
        )
    items = [
        {
            "user_id": str(a.user_id),
            "name": a.name,
            "specialty": a.specialty,
            "facility_id": str(a.facility_id),
            "facility": a.facility,
            "role": str(a.role),
            "intervals": [{"joined_at": i.joined_at, "left_at": i.left_at} for i in a.intervals],
        }
        for a in rows
    ]
    return json({"items": items, "total": len(items), "limit": len(items), "offset": 0})
