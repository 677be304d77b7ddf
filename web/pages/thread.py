"""A case's written thread: the messages, opinions and files of everyone the case is shared
with, and the chat of its sessions; and the answer to an invitation on a session's page."""

from __future__ import annotations

from aiohttp import web

from records.errors import Invalid
from records.messages import N_, msg
from records.models import InvitationAnswer, Role, ThreadKind, ThreadPost
from records.services import cases as cases_svc
from records.services import invitations
from records.services import thread as thread_svc

from ..i18n import gettext
from ..keys import config_key, sessions_key
from ..security import require_actor
from .common import flash, parse_id, render, see_other, url
from .forms import error_fields, error_message, form_data

NOT_FOUND = N_("Không tìm thấy hồ sơ")


async def _page(
    request: web.Request, *, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> web.Response:
    who = require_actor(request)
    case_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        case = await cases_svc.get_case(session=session, case_id=case_id, actor=who)
        entries = await thread_svc.read_thread(session=session, actor=who, case_id=case_id)
    context = {
        "case": case,
        "entries": entries,
        "values": values,
        "errors": errors,
        "may_give_opinion": who.role in (Role.specialist, Role.coordinator),
        "upload_url": url(request, "api-case-thread-post", id=str(case_id)),
        "max_upload_bytes": request.app[config_key].max_upload_bytes,
    }
    return await render(request, "cases/thread.html", context, status=status)


async def thread_page(request: web.Request) -> web.StreamResponse:
    """The thread of a case, oldest first, with the form to write in it."""
    return await _page(request, values={"text": "", "kind": "message"}, errors={})


async def thread_post(request: web.Request) -> web.StreamResponse:
    """Post a message (files go through the API, which the page's script calls)."""
    who = require_actor(request)
    case_id = parse_id(request.match_info["id"], NOT_FOUND)
    data = await form_data(request)
    values = {"text": data.get("text", ""), "kind": data.get("kind") or "message"}
    try:
        kind = ThreadKind(values["kind"])
        async with request.app[sessions_key]() as session:
            message = await thread_svc.post(
                session=session,
                actor=who,
                case_id=case_id,
                data=ThreadPost(text=values["text"][:5000], kind=kind),
            )
    except (Invalid, ValueError) as exc:
        if not isinstance(exc, Invalid):
            exc = Invalid(msg("Loại tin nhắn không hợp lệ"))
        errors = error_fields(request, exc) or {"text": error_message(request, exc)}
        return await _page(request, values=values, errors=errors, status=400)
    target = url(request, "case-thread", id=str(case_id))
    response = see_other(f"{target}#{thread_svc.anchor_of(message.id)}")
    flash(request, response, gettext(request, "Đã gửi tin nhắn"))
    return response


async def invitation_answer(request: web.Request) -> web.StreamResponse:
    """Accept or decline one's invitation to a session (a decline needs a reason)."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], N_("Không tìm thấy phiên hội chẩn"))
    data = await form_data(request)
    accept = data.get("answer") == "accept"
    back = url(request, "consultation", id=str(consultation_id))
    try:
        async with request.app[sessions_key]() as session:
            await invitations.answer_invitation(
                session=session,
                consultation_id=consultation_id,
                data=InvitationAnswer(accept=accept, reason=data.get("reason", "")[:500]),
                actor=who,
            )
    except Invalid as exc:
        response = see_other(back)
        flash(request, response, error_message(request, exc), "error")
        return response
    response = see_other(back)
    if accept:
        flash(request, response, gettext(request, "Đã nhận lời mời"))
    else:
        flash(request, response, gettext(request, "Đã từ chối lời mời; điều phối viên đã được báo"))
    return response


def add_routes(app: web.Application) -> None:
    """Register the thread pages and the invitation answer."""
    app.router.add_get("/cases/{id}/thread", thread_page, name="case-thread")
    app.router.add_post("/cases/{id}/thread", thread_post, name="case-thread-post")
    app.router.add_post(
        "/consultations/{id}/invitation", invitation_answer, name="consultation-invitation"
    )
