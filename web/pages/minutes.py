"""The minutes of a consultation (biên bản hội chẩn): the chair drafts, then makes them final."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from records.actor import Actor
from records.errors import Conflict, Invalid, NotFound
from records.messages import N_, msg
from records.models import Minutes, MinutesStatus, MinutesUpdate
from records.services import minutes as minutes_svc
from records.services import scheduling_views as views

from ..i18n import gettext
from ..keys import sessions_key
from ..security import require_actor
from ..validation import parse
from .common import flash, parse_id, render, see_other, url
from .forms import error_fields, error_message

TEXT_FIELDS = ("summary", "findings", "conclusion", "icd10", "treatment_plan")


def _ids(request: web.Request) -> tuple[uuid.UUID, uuid.UUID]:
    return (
        parse_id(request.match_info["id"], N_("Không tìm thấy phiên hội chẩn")),
        parse_id(request.match_info["case_id"], N_("Không tìm thấy biên bản")),
    )


def _values(minutes: Minutes) -> dict[str, Any]:
    return {name: getattr(minutes, name) or "" for name in TEXT_FIELDS}


async def _candidates(session: AsyncSession, minutes: Minutes) -> list[dict[str, Any]]:
    """Everyone who may be listed as present: the saved list, then attendance or invitations."""
    out: dict[str, dict[str, Any]] = {}
    fresh = await minutes_svc.attendees(session, minutes.consultation_id)
    for person in [*minutes.attendees, *fresh]:
        key = str(person.get("user_id", ""))
        if key and key not in out:
            out[key] = {
                "user_id": key,
                "name": str(person.get("name", "")),
                "facility": str(person.get("facility", "")),
                "role": str(person.get("role", "")),
            }
    return list(out.values())


async def _context(
    request: web.Request,
    session: AsyncSession,
    who: Actor,
    consultation_id: uuid.UUID,
    minutes: Minutes,
    values: dict[str, Any],
    present: set[str],
) -> dict[str, Any]:
    detail = await views.detail(
        session=session,
        actor=who,
        consultation_id=consultation_id,
    )
    case = next((c for c in detail.cases if c.id == minutes.case_id), None)
    if case is None:
        raise NotFound(msg("Không tìm thấy biên bản"))
    final = minutes.status == MinutesStatus.final
    signer = None
    if minutes.finalized_by is not None:
        signer = (await views.people(session, [minutes.finalized_by])).get(minutes.finalized_by)
    return {
        "detail": detail,
        "consultation": detail.consultation,
        "case": case,
        "minutes": minutes,
        "final": final,
        "editable": detail.is_chair and not final,
        "signer": signer,
        "values": values,
        "candidates": await _candidates(session, minutes),
        "present": present,
        "errors": {},
        "error": None,
    }


async def minutes_page(request: web.Request) -> web.StreamResponse:
    """The chair's form (pre-filled draft on first visit); read-only for others and once final."""
    who = require_actor(request)
    consultation_id, case_id = _ids(request)
    async with request.app[sessions_key]() as session:
        # Reading minutes is reading the patient's record: audited. Nothing is written yet.
        minutes = await minutes_svc.read_minutes(
            session=session,
            consultation_id=consultation_id,
            case_id=case_id,
            actor=who,
        )
        context = await _context(
            request,
            session,
            who,
            consultation_id,
            minutes,
            _values(minutes),
            {str(a.get("user_id")) for a in minutes.attendees},
        )
    return await render(request, "minutes/form.html", context)


async def minutes_submit(request: web.Request) -> web.StreamResponse:
    """Save the draft, or save and make final (``action=finalize``); errors keep the typed text."""
    who = require_actor(request)
    consultation_id, case_id = _ids(request)
    form = await request.post()
    values = {name: str(form.get(name, "")) for name in TEXT_FIELDS}
    present = {str(v) for v in form.getall("attendee", [])}
    finalize = form.get("action") == "finalize"
    async with request.app[sessions_key]() as session:
        minutes = await minutes_svc.get_or_draft(
            session=session,
            consultation_id=consultation_id,
            case_id=case_id,
            actor=who,
        )
        candidates = await _candidates(session, minutes)
        try:
            data = parse(
                MinutesUpdate,
                {
                    **{k: v.strip() for k, v in values.items()},
                    "icd10": values["icd10"].strip().upper() or None,
                    "attendees": [p for p in candidates if p["user_id"] in present],
                },
            )
            await minutes_svc.save_draft(
                session=session,
                consultation_id=consultation_id,
                case_id=case_id,
                data=data,
                actor=who,
            )
            if finalize:
                await minutes_svc.finalize(
                    session=session,
                    consultation_id=consultation_id,
                    case_id=case_id,
                    actor=who,
                )
        except (Invalid, Conflict) as exc:
            await session.rollback()
            minutes = await minutes_svc.get_or_draft(
                session=session,
                consultation_id=consultation_id,
                case_id=case_id,
                actor=who,
            )
            context = await _context(
                request, session, who, consultation_id, minutes, values, present
            )
            context["errors"] = error_fields(request, exc)
            context["error"] = error_message(request, exc)
            return await render(
                request,
                "minutes/form.html",
                context,
                status=409 if isinstance(exc, Conflict) else 400,
            )
    response = see_other(url(request, "minutes", id=str(consultation_id), case_id=str(case_id)))
    if finalize:
        flash(request, response, gettext(request, "Đã hoàn tất biên bản"))
    else:
        flash(request, response, gettext(request, "Đã lưu bản nháp biên bản"))
    return response


def add_routes(app: web.Application) -> None:
    """Register the minutes pages."""
    app.router.add_get("/consultations/{id}/minutes/{case_id}", minutes_page, name="minutes")
    app.router.add_post(
        "/consultations/{id}/minutes/{case_id}", minutes_submit, name="minutes-submit"
    )
