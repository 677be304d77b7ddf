"""The coordinator's scheduling of a session: time, duration, chair, invitees and conflicts.

One form does four things, by its ``action``: search people to invite, check the conflicts of
everyone invited, save (conflicts then need a confirmation), or save regardless once confirmed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from records.actor import Actor
from records.errors import Conflict, Invalid, NotFound
from records.localtime import LOCAL_TZ
from records.messages import Message, msg
from records.models import ConsultationSchedule, ParticipantRole, Role, User
from records.services import facilities as facilities_svc
from records.services import schedules
from records.services import scheduling_views as views
from records.services import users as users_svc

from ...i18n import gettext, ngettext
from ...keys import sessions_key
from ...security import require_actor
from ...validation import INVALID_INPUT
from ..common import flash, parse_id, render, see_other, url
from ..forms import error_fields, error_message, form_values, ids_in, local_moment, parse_form
from .detail import NOT_FOUND

DURATIONS = (30, 45, 60, 90, 120, 180, 240)
MAX_INVITEES = 30
TEXTS = ("date", "time", "duration", "chair_id", "q", "specialty", "facility_id")
TEMPLATE = "consultations/schedule.html"


def _default_values(detail: views.ConsultationDetail, who: Actor) -> dict[str, Any]:
    c = detail.consultation
    if c.scheduled_start is not None and c.scheduled_end is not None:
        start = c.scheduled_start.astimezone(LOCAL_TZ)
        minutes = int((c.scheduled_end - c.scheduled_start).total_seconds() // 60)
    else:
        start = (c.preferred_start or _tomorrow_afternoon()).astimezone(LOCAL_TZ)
        minutes = 60
    invited = [
        str(p.person.id)
        for p in detail.participants
        if p.role in (ParticipantRole.specialist, ParticipantRole.observer)
    ]
    chair = c.chair_id or who.user_id
    return {
        **dict.fromkeys(TEXTS, ""),
        "date": start.date().isoformat(),
        "time": start.strftime("%H:%M"),
        "duration": str(minutes),
        "chair_id": str(chair) if chair else "",
        "invitees": invited,
        "requires_admission": c.requires_admission,
    }


def _tomorrow_afternoon() -> datetime:
    tomorrow = datetime.now(LOCAL_TZ).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(14, 0), tzinfo=LOCAL_TZ)


def _times(values: dict[str, Any]) -> tuple[datetime, datetime]:
    """Start and end from the local date, time and duration typed; Invalid naming the field."""
    fields: dict[str, Message] = {}
    start = None
    try:
        start = local_moment(values["date"], values["time"], date_field="date", time_field="time")
    except Invalid as exc:
        fields.update(exc.fields)
    minutes = int(values["duration"]) if values["duration"].isdigit() else 0
    if not 15 <= minutes <= 720:
        fields["duration"] = msg("Thời lượng từ 15 phút đến 12 giờ")
    if fields or start is None:
        raise Invalid(msg(INVALID_INPUT), fields=fields)
    return start, start + timedelta(minutes=minutes)


def _schedule(values: dict[str, Any]) -> ConsultationSchedule:
    """The schedule the form describes, checked as the API checks it."""
    start, end = _times(values)
    own: dict[str, Message] = {}
    if len(values["invitees"]) > MAX_INVITEES:
        own["invitees"] = msg("Mời nhiều nhất 30 người")
    return parse_form(
        ConsultationSchedule,
        {
            "scheduled_start": start,
            "scheduled_end": end,
            "chair_id": values["chair_id"],
            "requires_admission": values["requires_admission"],
            "invitees": values["invitees"],
        },
        errors=own,
    )


async def _people_found(
    session: AsyncSession, who: Actor, values: dict[str, Any], staff: list[User], search: bool
) -> tuple[bool, list[User]]:
    """Whether the people search ran, and whom it shows (the host's specialists by default)."""
    if not (search or values["q"] or values["specialty"] or values["facility_id"]):
        return False, [u for u in staff if u.role == Role.specialist]
    facility = ids_in([values["facility_id"]])
    found = await users_svc.list_users(
        session=session,
        actor=who,
        q=values["q"] or None,
        specialty=values["specialty"] or None,
        facility_id=facility[0] if facility else None,
        limit=50,
    )
    return True, [u for u in found.items if u.role != Role.admin]


async def _chairs(
    session: AsyncSession, who: Actor, chair_id: uuid.UUID | None, staff: list[User]
) -> list[User]:
    chairs = [u for u in staff if u.role in (Role.coordinator, Role.specialist)]
    if chair_id is not None and all(u.id != chair_id for u in chairs):
        # A chair appointed from another facility stays selectable.
        try:
            chairs.insert(0, await users_svc.get_user(session=session, user_id=chair_id, actor=who))
        except NotFound:
            pass
    return chairs


async def _context(
    request: web.Request,
    session: AsyncSession,
    who: Actor,
    detail: views.ConsultationDetail,
    values: dict[str, Any],
    search: bool,
) -> dict[str, Any]:
    c = detail.consultation
    staff = await users_svc.list_users(
        session=session, actor=who, facility_id=c.host_facility_id, limit=200
    )
    chairs = await _chairs(session, who, c.chair_id, staff.items)
    searched, results = await _people_found(session, who, values, staff.items, search)
    chosen_ids = ids_in(values["invitees"])
    chosen = await views.people(session, chosen_ids)
    shown = {u.id for u in results}
    facilities = await facilities_svc.list_facilities(session=session, limit=200)
    typed = [int(values["duration"])] if values["duration"].isdigit() else []
    return {
        "detail": detail,
        "consultation": c,
        "values": values,
        "chair_options": [
            (str(u.id), f"{u.display_name} · {u.specialty}" if u.specialty else u.display_name)
            for u in chairs
        ],
        "results": results,
        "selected": [chosen[i] for i in chosen_ids if i in chosen and i not in shown],
        "searched": searched,
        "already": {p.person.id for p in detail.participants},
        "facility_options": [(str(f.id), f.name) for f in facilities.items],
        "facility_names": {f.id: f.name for f in facilities.items},
        "duration_options": [
            (str(m), ngettext(request, "%(num)d phút", "%(num)d phút", m))
            for m in sorted({*DURATIONS, *typed})
        ],
        "conflicts": [],
        "errors": {},
        "error": None,
        "confirm_needed": False,
    }


async def schedule_form(request: web.Request) -> web.StreamResponse:
    """Accept a request: time, duration, chair and invitees, with the people search."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        detail = await views.schedulable_detail(
            session=session, actor=who, consultation_id=consultation_id
        )
        values = _default_values(detail, who)
        context = await _context(request, session, who, detail, values, search=False)
    return await render(request, TEMPLATE, context)


async def schedule_submit(request: web.Request) -> web.StreamResponse:
    """Search people, check conflicts, or save the schedule (conflicts need a confirmation)."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], NOT_FOUND)
    form = await request.post()
    values = form_values(
        form, TEXTS, lists=("invitees",), flags=("requires_admission", "confirm_conflicts")
    )
    action = str(form.get("action") or "save")
    async with request.app[sessions_key]() as session:
        detail = await views.schedulable_detail(
            session=session, actor=who, consultation_id=consultation_id
        )
        context = await _context(request, session, who, detail, values, action == "search")
        if action == "search":
            return await render(request, TEMPLATE, context)
        try:
            data = _schedule(values)
            present = [p.person.id for p in detail.participants]
            context["conflicts"] = conflicts = await views.conflicts_for(
                session=session,
                actor=who,
                user_ids=list(dict.fromkeys([data.chair_id, *data.invitees, *present])),
                start=data.scheduled_start,
                end=data.scheduled_end,
                exclude_id=consultation_id,
            )
            if action == "check" or (conflicts and not values["confirm_conflicts"]):
                context["confirm_needed"] = bool(conflicts) and action != "check"
                return await render(request, TEMPLATE, context)
            await schedules.schedule(
                session=session, consultation_id=consultation_id, data=data, actor=who
            )
        except (Invalid, Conflict) as exc:
            context["errors"] = error_fields(request, exc)
            if "_" in context["errors"]:
                context["errors"].setdefault("time", context["errors"].pop("_"))
            context["error"] = error_message(request, exc)
            status = 409 if isinstance(exc, Conflict) else 400
            return await render(request, TEMPLATE, context, status=status)
    response = see_other(url(request, "consultation", id=str(consultation_id)))
    flash(request, response, gettext(request, "Đã lên lịch phiên hội chẩn"))
    return response


def add_routes(app: web.Application) -> None:
    """Register the scheduling form."""
    app.router.add_get("/consultations/{id}/schedule", schedule_form, name="consultation-schedule")
    app.router.add_post(
        "/consultations/{id}/schedule", schedule_submit, name="consultation-schedule-submit"
    )
