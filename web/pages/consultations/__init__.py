"""Consultation pages, one module per use case.

- here: the list of sessions and the coordinator's inbox;
- ``requesting``: a doctor asks a facility up the line to discuss cases;
- ``scheduling``: the coordinator accepts: time, chair, invitees, conflicts;
- ``detail``: a session's page, with cancel and uninvite.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from records import access
from records.messages import N_
from records.models import ConsultationStatus, Role
from records.services import scheduling_views as views

from ...keys import config_key, sessions_key
from ...security import require_actor
from ..common import NavItem, add_nav, render
from . import detail, requesting, scheduling


async def list_page(request: web.Request) -> web.StreamResponse:
    """Requests waiting for the coordinator, then every session the user may see."""
    who = require_actor(request)
    raw_status = request.query.get("status", "")
    status = ConsultationStatus(raw_status) if raw_status in set(ConsultationStatus) else None
    delay = timedelta(minutes=request.app[config_key].emergency_delay_minutes)
    async with request.app[sessions_key]() as session:
        inbox = await views.inbox(session=session, actor=who, delay=delay)
        items = await views.overview(session=session, actor=who, status=status, delay=delay)
    context = {
        "inbox": inbox,
        "items": items,
        "status": status or "",
        "may_request": access.can_request_consultations(who),
    }
    return await render(request, "consultations/list.html", context)


def add_routes(app: web.Application) -> None:
    """Register the consultation pages (``/consultations/new`` before ``/consultations/{id}``)."""
    app.router.add_get("/consultations", list_page, name="consultations")
    requesting.add_routes(app)
    detail.add_routes(app)
    scheduling.add_routes(app)
    add_nav(
        app,
        NavItem(
            "consultations",
            N_("Hội chẩn"),
            frozenset({Role.coordinator, Role.doctor, Role.specialist}),
            order=25,
        ),
    )
