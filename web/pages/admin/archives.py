"""The archives screen: the ended sessions of the admin's facility, each with its archive
download (docs/retention.md). Sessions are named by reference and facilities, not by title,
which may carry a patient's name."""

from __future__ import annotations

from aiohttp import web

from records.archive import archivable
from records.services.notifications import reference
from records.services.queues import facility_names

from ...keys import sessions_key
from ..common import render
from .common import require_admin


async def archives_page(request: web.Request) -> web.StreamResponse:
    """Ended sessions of the facility with their download button."""
    who = await require_admin(request)
    async with request.app[sessions_key]() as session:
        items = await archivable(session=session, actor=who)
        names = await facility_names(
            session,
            [f for c in items for f in (c.host_facility_id, c.requesting_facility_id)],
        )
    rows = [
        {
            "consultation": c,
            "reference": reference(c.id),
            "host": names.get(c.host_facility_id, ""),
            "requesting": names.get(c.requesting_facility_id, ""),
        }
        for c in items
    ]
    return await render(request, "admin/archives.html", {"rows": rows})


def add_routes(app: web.Application) -> None:
    """Register the archives screen."""
    app.router.add_get("/admin/archives", archives_page, name="admin-archives")
