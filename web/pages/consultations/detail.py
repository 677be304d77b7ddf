"""A session's page: status, cases, invitees with their network tests, conflicts, attendance,
chat log, minutes and recordings; and the actions on it: cancel, uninvite, and reopen a session
ended by mistake."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from records import access
from records.actor import Actor
from records.messages import N_
from records.models import (
    Attachment,
    AttachmentKind,
    ConsultationStatus,
    NetworkTestResult,
    utcnow,
)
from records.services import attachment_reads, reopening, schedules
from records.services import consultations as consultations_svc
from records.services import network_tests as network_tests_svc
from records.services import outcomes as outcomes_svc
from records.services import scheduling_views as views

from ...i18n import gettext
from ...keys import config_key, sessions_key
from ...security import require_actor
from ..common import flash, parse_id, render, see_other, url
from ..forms import form_values

NOT_FOUND = N_("Không tìm thấy phiên hội chẩn")


@dataclass(frozen=True, slots=True)
class RecordingView:
    """One participant's recording of the session, as the detail page plays it."""

    attachment: Attachment
    url: str
    participant: str
    duration: float | None


async def _network_tests(
    session: AsyncSession, who: Actor, detail: views.ConsultationDetail
) -> dict[uuid.UUID, NetworkTestResult] | None:
    """Each invitee's latest network test for those who organise the session, else None."""
    if not (detail.can_manage or detail.is_chair):
        return None
    return await network_tests_svc.latest_for_users(
        session=session,
        actor=who,
        user_ids=[p.person.id for p in detail.participants],
        consultation_id=detail.consultation.id,
    )


async def _recordings(
    request: web.Request, session: AsyncSession, who: Actor, detail: views.ConsultationDetail
) -> list[RecordingView]:
    """The session's recordings, kept as attachments of kind recording on its cases."""
    out: list[RecordingView] = []
    for case in detail.cases:
        items = await attachment_reads.list_for_case(session=session, actor=who, case_id=case.id)
        for a in items:
            if a.kind != AttachmentKind.recording or a.consultation_id != detail.consultation.id:
                continue
            meta = a.meta or {}
            who_meta = meta.get("participant")
            name = str(who_meta.get("name", "")) if isinstance(who_meta, dict) else ""
            duration = meta.get("duration")
            out.append(
                RecordingView(
                    attachment=a,
                    url=url(request, "api-attachment", id=str(a.id)),
                    participant=name,
                    duration=float(duration) if isinstance(duration, int | float) else None,
                )
            )
    return out


async def detail_page(request: web.Request) -> web.StreamResponse:
    """A session: status, cases, invitees, conflicts, attendance, chat log and minutes."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        detail = await views.detail(session=session, actor=who, consultation_id=consultation_id)
        network = await _network_tests(session, who, detail)
        recordings = await _recordings(request, session, who, detail)
        c = detail.consultation
        may_reopen = reopening.reopenable(c, utcnow()) and await reopening.may_reopen(
            session=session, actor=who, consultation=c
        )
        follow_ups = await outcomes_svc.for_consultation(
            session=session,
            consultation_id=consultation_id,
            actor=who,
            due=timedelta(days=request.app[config_key].outcome_due_days),
        )
    context = {
        "detail": detail,
        "network": network,
        "recordings": recordings,
        "follow_ups": follow_ups,
        "now": utcnow(),
        "consultation": c,
        "may_reopen": may_reopen,
        "may_schedule": detail.can_manage and c.status in schedules.SCHEDULABLE,
        "has_calendar": c.scheduled_start is not None and c.status != ConsultationStatus.requested,
        "duration_minutes": int((c.scheduled_end - c.scheduled_start).total_seconds() // 60)
        if c.scheduled_start and c.scheduled_end
        else None,
    }
    return await render(request, "consultations/detail.html", context)


async def cancel_submit(request: web.Request) -> web.StreamResponse:
    """Decline a request or cancel a session, with a reason kept in the case history."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], NOT_FOUND)
    reason = form_values(await request.post(), ("reason",))["reason"][:500]
    async with request.app[sessions_key]() as session:
        before = await access.require_consultation(
            session=session, actor=who, consultation_id=consultation_id
        )
        # The service changes the same object: read what it was first.
        declined = before.status == ConsultationStatus.requested and access.can_manage(who, before)
        await consultations_svc.cancel(
            session=session, consultation_id=consultation_id, actor=who, reason=reason
        )
    response = see_other(url(request, "consultation", id=str(consultation_id)))
    if declined:
        message = gettext(request, "Đã từ chối yêu cầu hội chẩn")
    else:
        message = gettext(request, "Đã hủy phiên hội chẩn")
    flash(request, response, message, "info")
    return response


async def reopen_submit(request: web.Request) -> web.StreamResponse:
    """Reopen a session ended by mistake and go back into its room."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        await reopening.reopen(session=session, consultation_id=consultation_id, actor=who)
    response = see_other(url(request, "room", id=str(consultation_id)))
    flash(
        request,
        response,
        gettext(request, "Đã mở lại phiên; mọi người có thể vào lại phòng"),
        "info",
    )
    return response


async def uninvite_submit(request: web.Request) -> web.StreamResponse:
    """Withdraw one invitation (not the chair's)."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], NOT_FOUND)
    user_id = parse_id(request.match_info["user_id"], N_("Không tìm thấy người dùng"))
    async with request.app[sessions_key]() as session:
        await schedules.uninvite(
            session=session, consultation_id=consultation_id, user_id=user_id, actor=who
        )
    response = see_other(url(request, "consultation", id=str(consultation_id)))
    flash(request, response, gettext(request, "Đã hủy lời mời"), "info")
    return response


def add_routes(app: web.Application) -> None:
    """Register a session's page and its actions."""
    app.router.add_get("/consultations/{id}", detail_page, name="consultation")
    app.router.add_post("/consultations/{id}/cancel", cancel_submit, name="consultation-cancel")
    app.router.add_post("/consultations/{id}/reopen", reopen_submit, name="consultation-reopen")
    app.router.add_post(
        "/consultations/{id}/participants/{user_id}/remove",
        uninvite_submit,
        name="consultation-uninvite",
    )
