"""Consultation requests and scheduling: request, inbox, schedule with conflicts, detail, cancel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.ext.asyncio import AsyncSession

from records import access
from records.actor import Actor
from records.errors import Conflict, Invalid, NotFound, RecordsError
from records.localtime import LOCAL_TZ
from records.messages import N_, Message, msg
from records.models import (
    Attachment,
    AttachmentKind,
    ConsultationRequest,
    ConsultationSchedule,
    ConsultationStatus,
    NetworkTestResult,
    ParticipantRole,
    Role,
    User,
)
from records.services import attachment_reads
from records.services import consultations as consultations_svc
from records.services import facilities as facilities_svc
from records.services import network_tests as network_tests_svc
from records.services import scheduling_views as views
from records.services import users as users_svc

from ..i18n import gettext, ngettext
from ..keys import sessions_key
from ..security import require_actor
from ..validation import parse
from .common import (
    NavItem,
    add_nav,
    error_fields,
    error_message,
    flash,
    parse_id,
    render,
    see_other,
    url,
)
from .schedule import local_moment

NOT_FOUND = N_("Không tìm thấy phiên hội chẩn")
DURATIONS = (30, 45, 60, 90, 120, 180, 240)
MAX_INVITEES = 30
INVALID = N_("Dữ liệu nhập chưa hợp lệ, vui lòng kiểm tra các trường được đánh dấu")
REQUEST_REFUSED = N_("Chỉ bác sĩ được gửi yêu cầu hội chẩn")


async def _posted(request: web.Request) -> MultiDictProxy[Any]:
    return await request.post()


def _text(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _uuids(values: list[Any], field_name: str) -> list[uuid.UUID]:
    out: list[uuid.UUID] = []
    for raw in values:
        try:
            out.append(uuid.UUID(str(raw)))
        except ValueError:
            raise Invalid(
                msg("Dữ liệu nhập chưa hợp lệ"),
                fields={field_name: msg("Mã định danh không hợp lệ")},
            ) from None
    return list(dict.fromkeys(out))


def _optional_uuid(raw: str, field_name: str) -> uuid.UUID | None:
    return _uuids([raw], field_name)[0] if raw else None


def _message(request: web.Request, exc: RecordsError) -> str:
    return error_message(request, exc)


def _translated_fields(request: web.Request, exc: RecordsError) -> dict[str, str]:
    return error_fields(request, exc)


# The list and the coordinator's inbox -----------------------------------------------------------


async def list_page(request: web.Request) -> web.StreamResponse:
    """Requests waiting for the coordinator, then every session the user may see."""
    who = require_actor(request)
    raw_status = request.query.get("status", "")
    status = ConsultationStatus(raw_status) if raw_status in set(ConsultationStatus) else None
    async with request.app[sessions_key]() as session:
        inbox = await views.inbox(session=session, actor=who)
        items = await views.overview(session=session, actor=who, status=status)
    context = {
        "inbox": inbox,
        "items": items,
        "status": status or "",
        "may_request": access.can_request_consultations(who),
    }
    return await render(request, "consultations/list.html", context)


# The doctor's request -----------------------------------------------------------------------------


async def _request_context(
    request: web.Request, session: AsyncSession, who: Actor, values: dict[str, Any]
) -> dict[str, Any]:
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
    }


async def _require_doctor(request: web.Request, who: Actor) -> None:
    """Only doctors request consultations; any other caller is refused (and audited)."""
    async with request.app[sessions_key]() as session:
        await access.require_role(
            session,
            actor=who,
            roles=(Role.doctor,),
            object_type="consultation",
            need="request",
            message=msg(REQUEST_REFUSED),
        )


async def request_form(request: web.Request) -> web.StreamResponse:
    """The request form; ``?case_id=`` ticks that case in advance."""
    who = require_actor(request)
    await _require_doctor(request, who)
    preselect = request.query.get("case_id", "")
    async with request.app[sessions_key]() as session:
        context = await _request_context(
            request,
            session,
            who,
            {
                "title": "",
                "host_facility_id": "",
                "case_ids": [preselect],
                "note": "",
                "preferred_date": "",
                "preferred_time": "",
            },
        )
    if context["cases"] and not context["values"]["title"]:
        chosen = [c for c in context["cases"] if str(c.id) == preselect]
        if chosen:
            context["values"]["title"] = gettext(
                request, "Hội chẩn: %(title)s", title=chosen[0].title
            )[:200]
    context["errors"] = {}
    return await render(request, "consultations/request.html", context)


async def request_submit(request: web.Request) -> web.StreamResponse:
    """Send the request up the referral line; field errors keep what was typed."""
    who = require_actor(request)
    await _require_doctor(request, who)
    form = await _posted(request)
    values: dict[str, Any] = {
        "title": _text(form, "title"),
        "host_facility_id": _text(form, "host_facility_id"),
        "case_ids": [str(v) for v in form.getall("case_ids", [])],
        "note": _text(form, "note"),
        "preferred_date": _text(form, "preferred_date"),
        "preferred_time": _text(form, "preferred_time"),
    }
    async with request.app[sessions_key]() as session:
        try:
            fields: dict[str, Message] = {}
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
                fields.update(exc.fields)
            if not values["case_ids"]:
                fields["case_ids"] = msg("Chọn ít nhất một hồ sơ")
            if not values["host_facility_id"]:
                fields["host_facility_id"] = msg("Trường này là bắt buộc")
            if fields:
                raise Invalid(msg(INVALID), fields=fields)
            data = parse(
                ConsultationRequest,
                {
                    "title": values["title"],
                    "case_ids": _uuids(values["case_ids"], "case_ids"),
                    "host_facility_id": _uuids([values["host_facility_id"]], "host_facility_id")[0],
                    "note": values["note"],
                    "preferred_start": preferred,
                },
            )
            consultation = await consultations_svc.request_consultation(
                session=session, data=data, actor=who
            )
        except (Invalid, Conflict) as exc:
            context = await _request_context(request, session, who, values)
            context["errors"] = _translated_fields(request, exc)
            context["error"] = _message(request, exc)
            return await render(
                request,
                "consultations/request.html",
                context,
                status=409 if isinstance(exc, Conflict) else 400,
            )
    response = see_other(url(request, "consultation", id=str(consultation.id)))
    flash(request, response, gettext(request, "Đã gửi yêu cầu hội chẩn"))
    return response


# Scheduling ---------------------------------------------------------------------------------------


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
        "date": start.date().isoformat(),
        "time": start.strftime("%H:%M"),
        "duration": str(minutes),
        "chair_id": str(chair) if chair else "",
        "invitees": invited,
        "requires_admission": c.requires_admission,
        "q": "",
        "specialty": "",
        "facility_id": "",
    }


def _tomorrow_afternoon() -> datetime:
    tomorrow = datetime.now(LOCAL_TZ).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(14, 0), tzinfo=LOCAL_TZ)


def _form_values(form: MultiDictProxy[Any]) -> dict[str, Any]:
    return {
        "date": _text(form, "date"),
        "time": _text(form, "time"),
        "duration": _text(form, "duration"),
        "chair_id": _text(form, "chair_id"),
        "invitees": list(dict.fromkeys(str(v) for v in form.getall("invitees", []))),
        "requires_admission": bool(form.get("requires_admission")),
        "q": _text(form, "q"),
        "specialty": _text(form, "specialty"),
        "facility_id": _text(form, "facility_id"),
    }


def _times(values: dict[str, Any]) -> tuple[datetime, datetime]:
    fields: dict[str, Message] = {}
    start = None
    try:
        start = local_moment(values["date"], values["time"], date_field="date", time_field="time")
    except Invalid as exc:
        fields.update(exc.fields)
    try:
        minutes = int(values["duration"])
        if not 15 <= minutes <= 720:
            raise ValueError
    except ValueError:
        minutes = 0
        fields["duration"] = msg("Thời lượng từ 15 phút đến 12 giờ")
    if fields or start is None:
        raise Invalid(msg(INVALID), fields=fields)
    return start, start + timedelta(minutes=minutes)


async def _schedule_context(
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
    chairs = [u for u in staff.items if u.role in (Role.coordinator, Role.specialist)]
    if c.chair_id is not None and all(u.id != c.chair_id for u in chairs):
        # A chair appointed from another facility stays selectable.
        try:
            chair = await users_svc.get_user(session=session, user_id=c.chair_id, actor=who)
            chairs.insert(0, chair)
        except NotFound:
            pass
    results: list[User] = []
    searched = search or bool(values["q"] or values["specialty"] or values["facility_id"])
    if searched:
        facility = None
        try:
            facility = _optional_uuid(values["facility_id"], "facility_id")
        except Invalid:
            facility = None
        found = await users_svc.list_users(
            session=session,
            actor=who,
            q=values["q"] or None,
            specialty=values["specialty"] or None,
            facility_id=facility,
            limit=50,
        )
        results = [u for u in found.items if u.role != Role.admin]
    else:
        results = [u for u in staff.items if u.role == Role.specialist]
    already = {p.person.id for p in detail.participants}
    chosen_ids = [v for v in values["invitees"] if v]
    try:
        chosen_uuids = _uuids(chosen_ids, "invitees")
    except Invalid:
        chosen_uuids = []
    chosen = await views.people(session, chosen_uuids)
    shown = {u.id for u in results}
    selected = [chosen[uid] for uid in chosen_uuids if uid in chosen and uid not in shown]
    facilities = await facilities_svc.list_facilities(session=session, limit=200)
    typed = [int(values["duration"])] if values["duration"].isdigit() else []
    minutes = sorted({*DURATIONS, *typed})
    return {
        "detail": detail,
        "consultation": c,
        "values": values,
        "chair_options": [
            (str(u.id), f"{u.display_name} · {u.specialty}" if u.specialty else u.display_name)
            for u in chairs
        ],
        "results": results,
        "selected": selected,
        "searched": searched,
        "already": already,
        "facility_options": [(str(f.id), f.name) for f in facilities.items],
        "facility_names": {f.id: f.name for f in facilities.items},
        "duration_options": [
            (str(m), ngettext(request, "%(num)d phút", "%(num)d phút", m)) for m in minutes
        ],
        "conflicts": [],
        "errors": {},
        "error": None,
        "confirm_needed": False,
    }


async def _managed_detail(
    request: web.Request, session: AsyncSession, who: Actor, consultation_id: uuid.UUID
) -> views.ConsultationDetail:
    return await views.schedulable_detail(
        session=session, actor=who, consultation_id=consultation_id
    )


async def schedule_form(request: web.Request) -> web.StreamResponse:
    """Accept a request: time, duration, chair and invitees, with the people search."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        detail = await _managed_detail(request, session, who, consultation_id)
        context = await _schedule_context(
            request, session, who, detail, _default_values(detail, who), search=False
        )
    return await render(request, "consultations/schedule.html", context)


async def schedule_submit(request: web.Request) -> web.StreamResponse:
    """Search people, check conflicts, or save the schedule (conflicts need a confirmation)."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], NOT_FOUND)
    form = await _posted(request)
    values = _form_values(form)
    action = _text(form, "action") or "save"
    async with request.app[sessions_key]() as session:
        detail = await _managed_detail(request, session, who, consultation_id)
        context = await _schedule_context(
            request, session, who, detail, values, search=action == "search"
        )
        if action == "search":
            return await render(request, "consultations/schedule.html", context)
        try:
            start, end = _times(values)
            fields: dict[str, Message] = {}
            chair = None
            if not values["chair_id"]:
                fields["chair_id"] = msg("Trường này là bắt buộc")
            else:
                chair = _uuids([values["chair_id"]], "chair_id")[0]
            invitees = _uuids(values["invitees"], "invitees")
            if len(invitees) > MAX_INVITEES:
                fields["invitees"] = msg("Mời nhiều nhất 30 người")
            if fields or chair is None:
                raise Invalid(msg(INVALID), fields=fields)
            everyone = list(
                dict.fromkeys([chair, *invitees, *(p.person.id for p in detail.participants)])
            )
            conflicts = await views.conflicts_for(
                session=session,
                user_ids=everyone,
                start=start,
                end=end,
                exclude_id=consultation_id,
            )
            context["conflicts"] = conflicts
            if action == "check" or (conflicts and not form.get("confirm_conflicts")):
                context["confirm_needed"] = bool(conflicts) and action != "check"
                return await render(request, "consultations/schedule.html", context)
            data = parse(
                ConsultationSchedule,
                {
                    "scheduled_start": start,
                    "scheduled_end": end,
                    "chair_id": chair,
                    "requires_admission": bool(values["requires_admission"]),
                    "invitees": invitees,
                },
            )
            await consultations_svc.schedule(
                session=session, consultation_id=consultation_id, data=data, actor=who
            )
        except (Invalid, Conflict) as exc:
            context["errors"] = _translated_fields(request, exc)
            if "_" in context["errors"]:
                context["errors"].setdefault("time", context["errors"].pop("_"))
            context["error"] = _message(request, exc)
            return await render(
                request,
                "consultations/schedule.html",
                context,
                status=409 if isinstance(exc, Conflict) else 400,
            )
    response = see_other(url(request, "consultation", id=str(consultation_id)))
    flash(request, response, gettext(request, "Đã lên lịch phiên hội chẩn"))
    return response


# Detail, cancel, uninvite -------------------------------------------------------------------------


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
        items = await attachment_reads.list_for_case(
            session=session,
            actor=who,
            case_id=case.id,
        )
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
        detail = await views.detail(
            session=session,
            actor=who,
            consultation_id=consultation_id,
        )
        network = await _network_tests(session, who, detail)
        recordings = await _recordings(request, session, who, detail)
    c = detail.consultation
    context = {
        "detail": detail,
        "network": network,
        "recordings": recordings,
        "consultation": c,
        "may_schedule": detail.can_manage and c.status in consultations_svc.SCHEDULABLE,
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
    form = await _posted(request)
    reason = _text(form, "reason")[:500]
    async with request.app[sessions_key]() as session:
        before = await views.detail(
            session=session,
            actor=who,
            consultation_id=consultation_id,
        )
        # The service changes the same object: read what it was first.
        declined = before.consultation.status == ConsultationStatus.requested and before.can_manage
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


async def uninvite_submit(request: web.Request) -> web.StreamResponse:
    """Withdraw one invitation (not the chair's)."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], NOT_FOUND)
    user_id = parse_id(request.match_info["user_id"], N_("Không tìm thấy người dùng"))
    async with request.app[sessions_key]() as session:
        await consultations_svc.uninvite(
            session=session, consultation_id=consultation_id, user_id=user_id, actor=who
        )
    response = see_other(url(request, "consultation", id=str(consultation_id)))
    flash(request, response, gettext(request, "Đã hủy lời mời"), "info")
    return response


def add_routes(app: web.Application) -> None:
    """Register the consultation pages."""
    app.router.add_get("/consultations", list_page, name="consultations")
    app.router.add_get("/consultations/new", request_form, name="consultation-new")
    app.router.add_post("/consultations/new", request_submit, name="consultation-new-submit")
    app.router.add_get("/consultations/{id}", detail_page, name="consultation")
    app.router.add_get("/consultations/{id}/schedule", schedule_form, name="consultation-schedule")
    app.router.add_post(
        "/consultations/{id}/schedule", schedule_submit, name="consultation-schedule-submit"
    )
    app.router.add_post("/consultations/{id}/cancel", cancel_submit, name="consultation-cancel")
    app.router.add_post(
        "/consultations/{id}/participants/{user_id}/remove",
        uninvite_submit,
        name="consultation-uninvite",
    )
    add_nav(
        app,
        NavItem(
            "consultations",
            N_("Hội chẩn"),
            frozenset({Role.coordinator, Role.doctor, Role.specialist}),
            order=25,
        ),
    )
