"""The week agenda of sessions and each session's calendar file (.ics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from aiohttp import web

from records.localtime import LOCAL_TZ
from records.messages import N_
from records.models import Role
from records.services import calendars
from records.services import scheduling_views as views

from ..i18n import gettext, localizer
from ..keys import sessions_key
from ..security import require_actor
from .common import NavItem, add_nav, parse_id, render, url
from .forms import BAD_DATE, parse_local_date

# Monday first, as Vietnamese calendars print the week ("Thứ Hai" … "Chủ Nhật").
DAY_NAMES = (
    N_("Thứ Hai"),
    N_("Thứ Ba"),
    N_("Thứ Tư"),
    N_("Thứ Năm"),
    N_("Thứ Sáu"),
    N_("Thứ Bảy"),
    N_("Chủ Nhật"),
)


def week_of(day: date) -> date:
    """The Monday of the week a day falls in."""
    return day - timedelta(days=day.weekday())


@dataclass
class AgendaDay:
    """One column of the week: a day and its sessions."""

    day: date
    name: str
    today: bool
    items: list[views.AgendaItem] = field(default_factory=list)


async def agenda_page(request: web.Request) -> web.StreamResponse:
    """Sessions of one week (Monday to Sunday, local time), with links to move week by week."""
    who = require_actor(request)
    today = datetime.now(LOCAL_TZ).date()
    raw = request.query.get("week", "")
    picked = parse_local_date(raw) if raw else today
    error = None
    if picked is None:
        error = gettext(request, BAD_DATE)
        picked = today
    monday = week_of(picked)
    start = datetime.combine(monday, time(0), tzinfo=LOCAL_TZ)
    end = start + timedelta(days=7)
    async with request.app[sessions_key]() as session:
        items = await views.agenda(session=session, actor=who, start=start, end=end)
    days = [
        AgendaDay(
            day=monday + timedelta(days=i),
            name=gettext(request, DAY_NAMES[i]),
            today=monday + timedelta(days=i) == today,
        )
        for i in range(7)
    ]
    for item in items:
        when = item.consultation.scheduled_start
        if when is None:
            continue
        index = (when.astimezone(LOCAL_TZ).date() - monday).days
        if 0 <= index < 7:
            days[index].items.append(item)
    here = url(request, "schedule")
    context = {
        "days": days,
        "monday": monday,
        "sunday": monday + timedelta(days=6),
        "total": len(items),
        "error": error,
        "picked": picked.isoformat(),
        "prev_url": f"{here}?week={(monday - timedelta(days=7)).isoformat()}",
        "next_url": f"{here}?week={(monday + timedelta(days=7)).isoformat()}",
        "this_week_url": here,
    }
    return await render(request, "consultations/agenda.html", context)


async def calendar_file(request: web.Request) -> web.StreamResponse:
    """The session as an iCalendar file (Asia/Ho_Chi_Minh); the same UID on every download."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], N_("Không tìm thấy phiên hội chẩn"))
    page_url = str(request.url.with_path(url(request, "consultation", id=str(consultation_id))))
    async with request.app[sessions_key]() as session:
        body = await calendars.calendar_file(
            session=session,
            actor=who,
            consultation_id=consultation_id,
            url=page_url.split("?")[0],
            say=localizer(request).message,
        )
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="hoi-chan-{consultation_id}.ics"',
            "Cache-Control": "no-store",
        },
    )


def add_routes(app: web.Application) -> None:
    """Register the agenda and the calendar download."""
    app.router.add_get("/schedule", agenda_page, name="schedule")
    app.router.add_get("/consultations/{id}/calendar.ics", calendar_file, name="consultation-ics")
    add_nav(
        app,
        NavItem(
            "schedule",
            N_("Lịch hội chẩn"),
            frozenset({Role.coordinator, Role.doctor, Role.specialist}),
            order=30,
        ),
    )
