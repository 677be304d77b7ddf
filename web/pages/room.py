"""The consultation room page: the video call, chat, moderation and the case file side panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from records.actor import Actor
from records.errors import RecordsError
from records.localtime import LOCAL_TZ
from records.messages import N_
from records.models import Attachment, AttachmentKind, Case, Consultation
from records.services import attachment_previews, attachment_reads, reopening, room_events
from records.services import cases as cases_svc
from records.services import consultations as consultations_svc
from records.services import patients as patients_svc

from ..keys import sessions_key, user_key
from ..security import require_actor
from .common import parse_id, render, url

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@dataclass
class AttachmentView:
    """One attachment as the side panel shows it."""

    filename: str
    kind: str
    size: int
    description: str
    view_url: str
    preview_url: str | None


@dataclass
class CaseView:
    """One case of the consultation: summary sections and attachments."""

    case: Case
    patient: dict[str, Any] | None
    attachments: list[AttachmentView] = field(default_factory=list)


def _when(consultation: Consultation) -> str:
    start, end = consultation.scheduled_start, consultation.scheduled_end
    if start is None:
        return ""
    s = start.astimezone(LOCAL_TZ)
    text = f"{s:%H:%M}"
    if end is not None:
        text += f"–{end.astimezone(LOCAL_TZ):%H:%M}"
    return f"{text}, {s:%d/%m/%Y}"


def _age(birth_year: int | None, now: datetime) -> int | None:
    return now.year - birth_year if birth_year else None


def _preview_url(request: web.Request, attachment: Attachment) -> str | None:
    """An image the browser can show inline, if there is one for this attachment."""
    if attachment_previews.flagged(attachment) is not None:
        # Too large to decode on the server, or in a clinic PC's browser.
        return None
    if attachment.content_type in IMAGE_TYPES:
        return url(request, "api-attachment", id=str(attachment.id))
    if attachment.kind == AttachmentKind.dicom:
        # A server-rendered PNG of the DICOM image.
        return url(request, "attachment-preview", id=str(attachment.id))
    return None


def _view_url(request: web.Request, attachment: Attachment) -> str:
    return url(request, "attachment-view", id=str(attachment.id))


async def _case_views(
    request: web.Request, session: AsyncSession, who: Actor, consultation: Consultation
) -> list[CaseView]:
    views = []
    now = datetime.now(LOCAL_TZ)
    for case_id in await consultations_svc.case_ids(session, consultation.id):
        try:
            case = await cases_svc.get_case(session=session, case_id=case_id, actor=who)
        except RecordsError:
            continue
        patient: dict[str, Any] | None = None
        try:
            p = await patients_svc.get_patient(
                session=session, patient_id=case.patient_id, actor=who
            )
            year = p.birth_date.year if p.birth_date else p.birth_year
            patient = {"name": p.full_name, "sex": str(p.sex), "age": _age(year, now), "mrn": p.mrn}
        except RecordsError:
            patient = None
        items = await attachment_reads.list_for_case(session=session, actor=who, case_id=case.id)
        views.append(
            CaseView(
                case=case,
                patient=patient,
                attachments=[
                    AttachmentView(
                        filename=a.filename,
                        kind=str(a.kind),
                        size=a.size,
                        description=a.description,
                        view_url=_view_url(request, a),
                        preview_url=_preview_url(request, a),
                    )
                    for a in items
                ],
            )
        )
    return views


async def room_page(request: web.Request) -> web.StreamResponse:
    """The room of a consultation; 404 for anyone its access rules keep out."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], N_("Không tìm thấy phiên hội chẩn"))
    async with request.app[sessions_key]() as session:
        consultation, room_role = await room_events.require_joinable(
            session=session,
            consultation_id=consultation_id,
            actor=who,
        )
        cases = await _case_views(request, session, who, consultation)
        may_reopen = await reopening.may_reopen(
            session=session, actor=who, consultation=consultation
        )
    user = request[user_key]
    me = {
        "name": user.display_name if user is not None else "",
        "title": user.title if user is not None else "",
    }
    cid = str(consultation.id)
    room = {
        "consultationId": cid,
        "role": room_role,
        "me": me,
        "joinUrl": url(request, "api-consultation-join", id=cid),
        "chatUrl": url(request, "api-consultation-chat", id=cid),
        "statusUrl": url(request, "api-consultation", id=cid),
        "reopenUrl": url(request, "api-consultation-reopen", id=cid) if may_reopen else None,
        "scheduledEnd": consultation.scheduled_end.isoformat()
        if consultation.scheduled_end
        else None,
    }
    consultation_url = url(request, "consultation", id=cid)
    # The network test sends the user back here when done.
    nettest_url = url(request, "nettest", query={"next": url(request, "room", id=cid)})
    context = {
        "nettest_url": nettest_url,
        "consultation": consultation,
        "when": _when(consultation),
        "room_role": room_role,
        "me": me,
        "cases": cases,
        "room": room,
        "consultation_url": consultation_url,
    }
    response = await render(request, "room.html", context)
    # The page holds patient data: never cache it.
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(app: web.Application) -> None:
    """Register the room page."""
    app.router.add_get("/consultations/{id}/room", room_page, name="room")
