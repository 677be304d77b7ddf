"""The requesting doctor reports the outcome of a case after the final minutes (a form on the
case page)."""

from __future__ import annotations

from aiohttp import web

from records.errors import Conflict, Invalid
from records.messages import N_
from records.models import OutcomeCreate
from records.services import outcomes as svc

from ..i18n import gettext
from ..keys import sessions_key
from ..security import require_actor
from ..validation import parse
from .cases import detail_context
from .common import flash, parse_id, render, see_other, url
from .forms import error_fields, error_message, form_data

FIELDS = ("kind", "outcome_date", "note")


async def outcome_submit(request: web.Request) -> web.StreamResponse:
    """Record an outcome; a rejected report comes back on the case page with its errors."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], N_("Không tìm thấy phiên hội chẩn"))
    case_id = parse_id(request.match_info["case_id"], N_("Không tìm thấy hồ sơ"))
    data = await form_data(request)
    values = {k: data.get(k, "").strip() for k in FIELDS}
    async with request.app[sessions_key]() as session:
        try:
            model = parse(OutcomeCreate, values)
            await svc.record_outcome(
                session=session,
                consultation_id=consultation_id,
                case_id=case_id,
                data=model,
                actor=who,
            )
        except (Invalid, Conflict) as exc:
            await session.rollback()
            errors = error_fields(request, exc) or {"_": error_message(request, exc)}
            form = {"consultation_id": str(consultation_id), "values": values, "errors": errors}
            context = await detail_context(request, session, who, case_id, outcome_form=form)
            return await render(request, "cases/detail.html", context, status=400)
    response = see_other(url(request, "case", id=str(case_id)) + "#outcome")
    flash(request, response, gettext(request, "Đã ghi kết quả sau hội chẩn"))
    return response


def add_routes(app: web.Application) -> None:
    """Register the outcome form's target."""
    app.router.add_post(
        "/consultations/{id}/outcomes/{case_id}", outcome_submit, name="outcome-submit"
    )
