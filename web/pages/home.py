"""The home page of each role: upcoming sessions, requests waiting, recent cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from records.messages import N_
from records.models import Case, Consultation, ConsultationStatus, Role
from records.models.base import utcnow
from records.services import cases as cases_svc
from records.services import consultations as consultations_svc
from records.services import outcomes as outcomes_svc
from records.services import scheduling_views as views

from ..keys import config_key, sessions_key
from ..security import require_actor
from .common import NavItem, add_nav, render, url

# The Join button becomes active this long before the scheduled start.
JOIN_EARLY = timedelta(minutes=10)
RECENT_CASES = 8


@dataclass(frozen=True)
class SessionView:
    """An upcoming session as the home page lists it."""

    consultation: Consultation
    join_from: datetime
    can_join: bool
    room_url: str | None
    detail_url: str | None


def session_views(
    request: web.Request, items: list[Consultation], now: datetime
) -> list[SessionView]:
    """Upcoming sessions with when their Join button turns active."""
    views = []
    for c in items:
        start = c.scheduled_start or now
        join_from = start - JOIN_EARLY
        views.append(
            SessionView(
                consultation=c,
                join_from=join_from,
                can_join=c.status == ConsultationStatus.live or now >= join_from,
                room_url=url(request, "room", id=str(c.id)),
                detail_url=url(request, "consultation", id=str(c.id)),
            )
        )
    return views


async def home(request: web.Request) -> web.StreamResponse:
    """What needs the user's attention today."""
    actor = require_actor(request)
    now = utcnow()
    waiting: list[views.AgendaItem] = []
    recent: list[Case] = []
    upcoming: list[Consultation] = []
    overdue: list[outcomes_svc.Overdue] = []
    async with request.app[sessions_key]() as session:
        if actor.role != Role.admin:
            upcoming = await consultations_svc.upcoming_for(
                session=session, actor=actor, now=now, limit=10
            )
            if actor.role in (Role.coordinator, Role.doctor):
                # The queue: emergencies first, then the oldest; overdue emergencies flagged.
                waiting = await views.inbox(
                    session=session,
                    actor=actor,
                    delay=timedelta(minutes=request.app[config_key].emergency_delay_minutes),
                    own_requests=actor.role == Role.doctor,
                )
            page = await cases_svc.list_cases(session=session, actor=actor, limit=RECENT_CASES)
            recent = page.items
            overdue = await outcomes_svc.overdue_for(
                session=session,
                actor=actor,
                now=now,
                due=timedelta(days=request.app[config_key].outcome_due_days),
            )
    context = {
        "sessions": session_views(request, upcoming, now),
        "waiting": waiting,
        "recent_cases": recent,
        "overdue_outcomes": overdue,
        "now": now,
    }
    return await render(request, "home/index.html", context)


def add_routes(app: web.Application) -> None:
    """Register the home page."""
    app.router.add_get("/", home, name="home")
    add_nav(app, NavItem("home", N_("Trang chủ"), order=0))
