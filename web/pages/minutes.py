"""The minutes of a consultation (biên bản hội chẩn) on the Ministry of Health's form: the chair
drafts (autosaved), the chair and the secretary confirm with their password, amendments follow."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.ext.asyncio import AsyncSession

from records import access
from records.actor import Actor
from records.errors import Conflict, Invalid
from records.localtime import to_local
from records.messages import N_
from records.models import Minutes, MinutesStatus, MinutesUpdate
from records.services import minutes as minutes_svc
from records.services import minutes_document, minutes_form, minutes_signing
from records.services import minutes_pdf as minutes_pdf_svc

from .. import minutes_pdf
from ..api.attachments import content_disposition
from ..i18n import gettext, translate
from ..keys import blobs_key, sessions_key
from ..security import require_actor
from ..validation import parse
from .common import flash, parse_id, render, see_other, url
from .forms import error_fields, error_message

TEXT_FIELDS = ("place", "reason", "summary", "findings", "conclusion", "treatment_plan")
TEMPLATE = "minutes/page.html"


def _ids(request: web.Request) -> tuple[uuid.UUID, uuid.UUID]:
    return (
        parse_id(request.match_info["id"], N_("Không tìm thấy phiên hội chẩn")),
        parse_id(request.match_info["case_id"], N_("Không tìm thấy biên bản")),
    )


def _values(minutes: Minutes) -> dict[str, Any]:
    """The form's values from stored minutes."""
    values: dict[str, Any] = {name: getattr(minutes, name) or "" for name in TEXT_FIELDS}
    values["icd10_codes"] = ", ".join(minutes.icd10_codes)
    values["conclusions"] = [dict(c) for c in minutes.conclusions]
    values["presence"] = {
        str(a.get("user_id")): "guest" if a.get("guest") else "member" for a in minutes.attendees
    }
    return values


def _posted(form: MultiDictProxy[Any]) -> dict[str, Any]:
    """The form's values as typed (kept when the page comes back with errors)."""
    values: dict[str, Any] = {name: str(form.get(name, "")) for name in TEXT_FIELDS}
    values["icd10_codes"] = str(form.get("icd10_codes", ""))
    questions = [str(q) for q in form.getall("question", [])]
    answers = [str(a) for a in form.getall("answer", [])]
    values["conclusions"] = [
        {"question": q, "answer": answers[i] if i < len(answers) else ""}
        for i, q in enumerate(questions)
    ]
    values["presence"] = {
        key.removeprefix("presence-"): str(value)
        for key, value in form.items()
        if key.startswith("presence-") and str(value) in ("member", "guest")
    }
    return values


def _is_form(form: MultiDictProxy[Any]) -> bool:
    """Whether the post carries the draft's text (the chair's form) or only a signature."""
    return any(name in form for name in (*TEXT_FIELDS, "icd10_codes"))


def _update(values: dict[str, Any]) -> MinutesUpdate:
    """The typed values as a draft update (Invalid with field errors if they break a rule)."""
    attendees = []
    for user_id, presence in values["presence"].items():
        attendees.append({"user_id": user_id, "guest": presence == "guest"})
    conclusions = [
        {"question": c["question"].strip(), "answer": c["answer"].strip()}
        for c in values["conclusions"]
        if c["question"].strip()
    ]
    return parse(
        MinutesUpdate,
        {
            **{k: values[k].strip() for k in TEXT_FIELDS},
            "icd10_codes": values["icd10_codes"],
            "conclusions": conclusions,
            "attendees": attendees,
        },
    )


async def _context(
    request: web.Request,
    session: AsyncSession,
    who: Actor,
    minutes: Minutes,
    values: dict[str, Any],
) -> dict[str, Any]:
    doc = await minutes_document.build(session, minutes)
    is_chair = await access.is_chair(session=session, actor=who, consultation=doc.consultation)
    draft = minutes.status == MinutesStatus.draft
    mine = {
        "chair": is_chair and minutes.chair_confirmed_at is None,
        "secretary": doc.secretary is not None
        and doc.secretary.user_id == who.user_id
        and minutes.secretary_confirmed_at is None,
    }
    return {
        "doc": doc,
        "consultation": doc.consultation,
        "case": doc.case,
        "minutes": minutes,
        "final": not draft,
        "editable": is_chair and draft,
        "can_confirm": draft and (mine["chair"] or mine["secretary"]),
        "can_amend": is_chair and not draft and minutes.id == doc.versions[-1].id,
        "pdf_url": url(
            request, "minutes-pdf", id=str(minutes.consultation_id), case_id=str(minutes.case_id)
        )
        if any(v.status == MinutesStatus.final for v in doc.versions)
        else None,
        "candidates": await minutes_form.people(session, doc.consultation),
        "values": values,
        "errors": {},
        "error": None,
    }


async def minutes_page(request: web.Request) -> web.StreamResponse:
    """The form (the chair's pre-filled draft at first); read-only for others and once final."""
    who = require_actor(request)
    consultation_id, case_id = _ids(request)
    async with request.app[sessions_key]() as session:
        # Reading minutes is reading the patient's record: audited. Nothing is written yet.
        minutes = await minutes_svc.read_minutes(
            session=session, consultation_id=consultation_id, case_id=case_id, actor=who
        )
        context = await _context(request, session, who, minutes, _values(minutes))
    return await render(request, TEMPLATE, context)


async def _save(
    session: AsyncSession, who: Actor, ids: tuple[uuid.UUID, uuid.UUID], values: dict[str, Any]
) -> Minutes:
    return await minutes_svc.save_draft(
        session=session, consultation_id=ids[0], case_id=ids[1], data=_update(values), actor=who
    )


async def minutes_submit(request: web.Request) -> web.StreamResponse:
    """Save the draft, confirm it with a password (``action=confirm``), or start an amendment."""
    who = require_actor(request)
    ids = _ids(request)
    form = await request.post()
    action = str(form.get("action", "save"))
    values = _posted(form)
    done = N_("Đã lưu bản nháp biên bản")
    problem: str | None = None
    async with request.app[sessions_key]() as session:
        try:
            if action == "amend":
                await minutes_signing.amend(
                    session=session, consultation_id=ids[0], case_id=ids[1], actor=who
                )
                done = N_("Đã tạo bản sửa đổi; bản đã ký vẫn được giữ nguyên")
            else:
                if _is_form(form):  # the chair's form; a secretary sends only the signing box
                    await _save(session, who, ids, values)
                if action == "confirm":
                    signed = await minutes_signing.confirm(
                        session=session,
                        consultation_id=ids[0],
                        case_id=ids[1],
                        actor=who,
                        password=str(form.get("password", "")),
                    )
                    done = N_("Đã xác nhận biên bản; chờ người ký còn lại")
                    if signed.status == MinutesStatus.final:
                        done = N_("Đã hoàn tất biên bản")
                        problem = await _publish(request, session, signed, who)
        except (Invalid, Conflict) as exc:
            await session.rollback()
            minutes = await minutes_svc.read_minutes(
                session=session, consultation_id=ids[0], case_id=ids[1], actor=who
            )
            keep = values if _is_form(form) else _values(minutes)
            context = await _context(request, session, who, minutes, keep)
            context["errors"] = error_fields(request, exc)
            context["error"] = error_message(request, exc)
            status = 409 if isinstance(exc, Conflict) else 400
            return await render(request, TEMPLATE, context, status=status)
    response = see_other(url(request, "minutes", id=str(ids[0]), case_id=str(ids[1])))
    # One message a page: the PDF's problem, when there is one, follows the outcome.
    flash(request, response, " ".join(filter(None, (gettext(request, done), problem))))
    return response


async def _publish(
    request: web.Request, session: AsyncSession, minutes: Minutes, who: Actor
) -> str | None:
    """Render, sign and keep the PDF; the minutes are final either way, so a failure (no
    certificate installed yet) is told, and the PDF is made at the first download instead."""
    try:
        await minutes_pdf.publish(request.app, session, minutes, who)
    except Conflict as exc:
        await session.rollback()
        return translate(request, exc.text)
    return None


async def minutes_pdf_file(request: web.Request) -> web.StreamResponse:
    """The signed PDF of the final minutes (made now if finalising could not make it)."""
    who = require_actor(request)
    ids = _ids(request)
    async with request.app[sessions_key]() as session:
        current = await minutes_svc.read_minutes(
            session=session, consultation_id=ids[0], case_id=ids[1], actor=who
        )
        if current.status == MinutesStatus.final and current.pdf_attachment_id is None:
            await minutes_pdf.publish(request.app, session, current, who)
        _, attachment = await minutes_pdf_svc.signed_pdf(
            session=session, consultation_id=ids[0], case_id=ids[1], actor=who
        )
    data = b"".join(
        [c async for c in request.app[blobs_key].open(attachment.sha256, size=attachment.size)]
    )
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition("attachment", attachment.filename),
            "Cache-Control": "private, no-store",
        },
    )


async def minutes_autosave(request: web.Request) -> web.StreamResponse:
    """Save the draft as it is typed (the page's script); JSON answer with field errors."""
    who = require_actor(request)
    ids = _ids(request)
    values = _posted(await request.post())
    async with request.app[sessions_key]() as session:
        try:
            minutes = await _save(session, who, ids, values)
        except (Invalid, Conflict) as exc:
            status = 409 if isinstance(exc, Conflict) else 400
            body = {"message": error_message(request, exc), "fields": error_fields(request, exc)}
            return web.json_response({"error": body}, status=status)
    saved = minutes.updated_at.isoformat() if minutes.updated_at else None
    return web.json_response({"saved_at": saved})


async def secretary_submit(request: web.Request) -> web.StreamResponse:
    """The coordinator names the secretary among the invited (the chair: the chair keeps them)."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], N_("Không tìm thấy phiên hội chẩn"))
    form = await request.post()
    user_id = parse_id(str(form.get("user_id", "")), N_("Không tìm thấy người dùng"))
    async with request.app[sessions_key]() as session:
        await minutes_signing.assign_secretary(
            session=session, consultation_id=consultation_id, user_id=user_id, actor=who
        )
    response = see_other(url(request, "consultation", id=str(consultation_id)))
    flash(request, response, gettext(request, "Đã chỉ định thư ký"))
    return response


def add_routes(app: web.Application) -> None:
    """Register the minutes pages."""
    # The form prints days, hours and minutes of local time ("ngày 07 tháng 12 năm 2026").
    aiohttp_jinja2.get_env(app).filters["local"] = to_local
    app.router.add_get("/consultations/{id}/minutes/{case_id}", minutes_page, name="minutes")
    app.router.add_post(
        "/consultations/{id}/minutes/{case_id}", minutes_submit, name="minutes-submit"
    )
    app.router.add_get(
        "/consultations/{id}/minutes/{case_id}/pdf", minutes_pdf_file, name="minutes-pdf"
    )
    app.router.add_post(
        "/consultations/{id}/secretary", secretary_submit, name="consultation-secretary"
    )
    app.router.add_post(
        "/consultations/{id}/minutes/{case_id}/autosave",
        minutes_autosave,
        name="minutes-autosave",
    )
