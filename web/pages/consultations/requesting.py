"""A doctor's request for a consultation: the form, and sending it up the referral line."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from records import access
from records.actor import Actor
from records.errors import Conflict, Invalid
from records.messages import N_, Message, msg
from records.models import ConsultationRequest
from records.services import consultations as consultations_svc
from records.services import facilities as facilities_svc
from records.services import scheduling_views as views

from ...i18n import gettext
from ...keys import sessions_key
from ...security import require_actor
from ..common import flash, render, require_doctor, see_other, url
from ..forms import error_fields, error_message, form_values, local_moment, parse_form

REQUEST_REFUSED = N_("Chỉ bác sĩ được gửi yêu cầu hội chẩn")
TEXTS = ("title", "host_facility_id", "note", "preferred_date", "preferred_time")


async def _context(session: AsyncSession, who: Actor, values: dict[str, Any]) -> dict[str, Any]:
    if who.facility_id is None:
        raise await access.deny(
            session,
            actor=who,
            object_type="consultation",
            object_id=None,
            need="request",
            forbidden=msg(REQUEST_REFUSED),
        )
    hosts = await facilities_svc.facilities_above(session=session, facility=who.facility_id)
    cases = await views.requestable_cases(session=session, actor=who)
    return {
        "host_options": [(str(f.id), f.name) for f in hosts],
        "cases": cases,
        "values": values,
        "errors": {},
    }


async def _require_doctor(request: web.Request, who: Actor) -> None:
    """Only doctors request consultations; any other caller is refused (and audited)."""
    await require_doctor(
        request, who, object_type="consultation", need="request", refusal=REQUEST_REFUSED
    )


async def request_form(request: web.Request) -> web.StreamResponse:
    """The request form; ``?case_id=`` ticks that case in advance."""
    who = require_actor(request)
    await _require_doctor(request, who)
    preselect = request.query.get("case_id", "")
    values: dict[str, Any] = {**dict.fromkeys(TEXTS, ""), "case_ids": [preselect]}
    async with request.app[sessions_key]() as session:
        context = await _context(session, who, values)
    chosen = [c for c in context["cases"] if str(c.id) == preselect]
    if chosen:
        values["title"] = gettext(request, "Hội chẩn: %(title)s", title=chosen[0].title)[:200]
    return await render(request, "consultations/request.html", context)


def _request(values: dict[str, Any]) -> ConsultationRequest:
    """The request the form describes, checked as the API checks it."""
    own: dict[str, Message] = {}
    preferred = None
    try:
        preferred = local_moment(
            values["preferred_date"],
            values["preferred_time"],
            date_field="preferred_date",
            time_field="preferred_time",
            required=False,
        )
    except Invalid as exc:
        own.update(exc.fields)
    return parse_form(
        ConsultationRequest,
        {
            "title": values["title"],
            "case_ids": values["case_ids"],
            "host_facility_id": values["host_facility_id"],
            "note": values["note"],
            "preferred_start": preferred,
        },
        errors=own,
        missing={"case_ids": N_("Chọn ít nhất một hồ sơ")},
    )


async def request_submit(request: web.Request) -> web.StreamResponse:
    """Send the request up the referral line; field errors keep what was typed."""
    who = require_actor(request)
    await _require_doctor(request, who)
    values = form_values(await request.post(), TEXTS, lists=("case_ids",))
    async with request.app[sessions_key]() as session:
        try:
            consultation = await consultations_svc.request_consultation(
                session=session, data=_request(values), actor=who
            )
        except (Invalid, Conflict) as exc:
            context = await _context(session, who, values)
            context["errors"] = error_fields(request, exc)
            context["error"] = error_message(request, exc)
            status = 409 if isinstance(exc, Conflict) else 400
            return await render(request, "consultations/request.html", context, status=status)
    response = see_other(url(request, "consultation", id=str(consultation.id)))
    flash(request, response, gettext(request, "Đã gửi yêu cầu hội chẩn"))
    return response


def add_routes(app: web.Application) -> None:
    """Register the request form."""
    app.router.add_get("/consultations/new", request_form, name="consultation-new")
    app.router.add_post("/consultations/new", request_submit, name="consultation-new-submit")
