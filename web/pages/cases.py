"""Case files: list, create and edit the clinical summary, status changes, history, attachments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from records import access, imaging
from records.actor import Actor
from records.errors import Conflict, Invalid, NotFound, RecordsError
from records.localtime import to_local
from records.messages import N_, msg
from records.models import (
    CASE_TRANSITIONS,
    Case,
    CaseCreate,
    CaseEvent,
    CaseStatus,
    CaseUpdate,
    OutcomeKind,
    Patient,
    Role,
    Urgency,
    utcnow,
)
from records.services import attachment_previews as previews
from records.services import attachment_reads
from records.services import attachments as attachments_svc
from records.services import cases as cases_svc
from records.services import outcomes as outcomes_svc
from records.services import patients as patients_svc
from records.services import users as users_svc

from ..i18n import gettext
from ..keys import blobs_key, config_key, renderer_key, sessions_key
from ..security import require_actor
from ..validation import parse
from .common import (
    PAGE_SIZE,
    NavItem,
    add_nav,
    flash,
    page_offset,
    pager,
    parse_id,
    render,
    require_doctor,
    see_other,
    url,
)
from .forms import clean_form, error_fields, error_message, form_data
from .imaging import warm_studies

NOT_FOUND = N_("Không tìm thấy hồ sơ")
# The clinical summary, in the order of a Vietnamese case presentation.
SUMMARY_FIELDS = (
    "history",
    "examination",
    "results",
    "diagnosis",
    "icd10",
    "treatment",
    "question",
)
FIELDS = ("title", "specialty", "urgency", "department", "bed", *SUMMARY_FIELDS)
OPTIONAL = ("icd10", "department", "bed")
# Status changes a doctor makes by hand; "scheduled" and "discussed" follow the consultation.
# What the author moves by hand; scheduling and the session move the rest (a scheduled case
# goes back to submitted only when its session is cancelled).
MANUAL_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.draft: frozenset({CaseStatus.submitted}),
    CaseStatus.submitted: frozenset({CaseStatus.draft, CaseStatus.closed}),
    CaseStatus.discussed: frozenset({CaseStatus.closed}),
}
MANUAL_TARGETS = frozenset().union(*MANUAL_TRANSITIONS.values())
STATUS_DONE = {
    CaseStatus.submitted: N_("Đã gửi hồ sơ"),
    CaseStatus.draft: N_("Đã chuyển hồ sơ về nháp"),
    CaseStatus.closed: N_("Đã đóng hồ sơ"),
}


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a case's history, with who did it."""

    event: CaseEvent
    who: str


def _cleaned(values: dict[str, str]) -> dict[str, Any]:
    """Form values as the models take them: codes upper-cased, empty optional fields as None."""
    cleaned = clean_form(values, OPTIONAL)
    if isinstance(cleaned.get("icd10"), str):
        cleaned["icd10"] = cleaned["icd10"].upper()
    return cleaned


def _case_errors(request: web.Request, exc: RecordsError) -> dict[str, str]:
    return error_fields(request, exc) or {"_": error_message(request, exc)}


async def _history(session: AsyncSession, actor: Actor, case: Case) -> list[HistoryEntry]:
    events = await cases_svc.history(session=session, case_id=case.id, actor=actor)
    names: dict[uuid.UUID, str] = {}
    out = []
    for event in reversed(events):
        who = ""
        if event.actor_id is not None:
            if event.actor_id not in names:
                try:
                    user = await users_svc.get_user(
                        session=session, user_id=event.actor_id, actor=actor
                    )
                    names[event.actor_id] = user.display_name
                except RecordsError:
                    names[event.actor_id] = ""
            who = names[event.actor_id]
        out.append(HistoryEntry(event=event, who=who))
    return out


async def case_list(request: web.Request) -> web.StreamResponse:
    """Case files the user may read, most recently changed first, filtered by status."""
    actor = require_actor(request)
    q = request.query.get("q", "").strip()[:120]
    status_value = request.query.get("status", "")
    status = CaseStatus(status_value) if status_value in set(CaseStatus) else None
    offset = page_offset(request)
    async with request.app[sessions_key]() as session:
        result = await cases_svc.list_cases(
            session=session,
            actor=actor,
            status=status,
            q=q or None,
            limit=PAGE_SIZE,
            offset=offset,
        )
    context = {
        "q": q,
        "status": status_value if status else "",
        "statuses": list(CaseStatus),
        "cases": result.items,
        "page": pager(
            request,
            offset=offset,
            limit=PAGE_SIZE,
            count=len(result.items),
            total=result.total,
            total_exact=result.total_exact,
        ),
    }
    return await render(request, "cases/list.html", context)


async def _writable_patient(
    session: AsyncSession, actor: Actor, value: str | None
) -> Patient | None:
    if not value:
        return None
    try:
        patient_id = uuid.UUID(value)
    except ValueError:
        return None
    try:
        return await patients_svc.get_patient(session=session, patient_id=patient_id, actor=actor)
    except NotFound:
        return None


async def _new_form(
    request: web.Request,
    session: AsyncSession,
    actor: Actor,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> web.Response:
    patient = await _writable_patient(session, actor, values.get("patient_id"))
    patients: list[Patient] = []
    if patient is None:
        listed = await patients_svc.list_patients(
            session=session, actor=actor, facility_id=actor.facility_id, limit=200
        )
        patients = listed.items
    context = {
        "values": values,
        "errors": errors,
        "case": None,
        "patient": patient,
        "patients": patients,
        "urgencies": list(Urgency),
    }
    return await render(request, "cases/form.html", context, status=status)


async def _require_doctor(request: web.Request, actor: Actor) -> None:
    """Only doctors open case files; any other caller is refused (and audited)."""
    refusal = N_("Chỉ bác sĩ của cơ sở mới được lập hồ sơ hội chẩn")
    await require_doctor(request, actor, object_type="case", need="create", refusal=refusal)


async def case_new(request: web.Request) -> web.StreamResponse:
    """The form for a new case file, for a patient chosen beforehand or picked here."""
    actor = require_actor(request)
    await _require_doctor(request, actor)
    values = {"patient_id": request.query.get("patient", ""), "urgency": Urgency.routine.value}
    async with request.app[sessions_key]() as session:
        return await _new_form(request, session, actor, values, {})


async def case_create(request: web.Request) -> web.StreamResponse:
    """Open a case file; errors come back next to their fields with what was typed."""
    actor = require_actor(request)
    await _require_doctor(request, actor)
    data = await form_data(request)
    values = {k: data.get(k, "") for k in (*FIELDS, "patient_id")}
    async with request.app[sessions_key]() as session:
        try:
            cleaned = _cleaned(values)
            if not cleaned.get("patient_id"):
                problem = msg("Vui lòng chọn bệnh nhân")
                raise Invalid(problem, fields={"patient_id": problem})
            model = parse(CaseCreate, cleaned)
            case = await cases_svc.create_case(session=session, data=model, actor=actor)
        except NotFound:
            missing = {"patient_id": gettext(request, "Không tìm thấy bệnh nhân")}
            return await _new_form(request, session, actor, values, missing, status=400)
        except (Invalid, Conflict) as exc:
            return await _new_form(
                request, session, actor, values, _case_errors(request, exc), status=400
            )
    response = see_other(url(request, "case", id=str(case.id)))
    flash(request, response, gettext(request, "Đã tạo hồ sơ hội chẩn"))
    return response


async def case_detail(request: web.Request) -> web.StreamResponse:
    """A case file: summary, attachments with upload, status, outcome and history."""
    actor = require_actor(request)
    case_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        context = await detail_context(request, session, actor, case_id)
    return await render(request, "cases/detail.html", context)


async def detail_context(
    request: web.Request,
    session: AsyncSession,
    actor: Actor,
    case_id: uuid.UUID,
    outcome_form: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the case page shows; ``outcome_form`` re-shows a rejected outcome report."""
    case = await cases_svc.get_case(session=session, case_id=case_id, actor=actor)
    patient: Patient | None
    try:
        patient = await patients_svc.get_patient(
            session=session, patient_id=case.patient_id, actor=actor
        )
    except RecordsError:
        patient = None
    attachments = await attachment_reads.list_for_case(
        session=session, actor=actor, case_id=case.id
    )
    history = await _history(session, actor, case)
    due = timedelta(days=request.app[config_key].outcome_due_days)
    follow_ups = await outcomes_svc.for_case(session=session, case_id=case.id, actor=actor, due=due)
    can_write = access.can_write_clinical(actor, case.facility_id)
    status = CaseStatus(case.status)
    studies = imaging.group(case.id, attachments)
    warm_studies(request, case.id, studies)
    # Why a DICOM file shows no image: flagged at upload, or its decoding failed before.
    notes = {
        a.id: note
        for a in attachments
        if a.content_type == "application/dicom"
        and (
            note := previews.note(
                blobs=request.app[blobs_key], limits=request.app[renderer_key].limits, attachment=a
            )
        )
        is not None
    }
    return {
        "case": case,
        "patient": patient,
        # DICOM files show as studies; the rest as files.
        "attachments": [a for a in attachments if a.content_type != "application/dicom"],
        "studies": studies,
        "notes": notes,
        "zip_url": url(request, "api-case-attachments-zip", id=str(case.id)),
        "history": history,
        "follow_ups": follow_ups,
        "can_report_outcome": can_write,
        "outcome_kinds": list(OutcomeKind),
        "outcome_form": outcome_form or {},
        "now": utcnow(),
        "today": to_local(utcnow()).date().isoformat(),
        "can_edit": can_write and status in cases_svc.EDITABLE,
        "can_upload": can_write and status in attachments_svc.UPLOADABLE,
        "transitions": (
            sorted(CASE_TRANSITIONS[status] & MANUAL_TRANSITIONS.get(status, frozenset()))
            if can_write
            else []
        ),
        "upload_url": url(request, "api-case-attachments-upload", id=str(case.id)),
        "max_upload_bytes": request.app[config_key].max_upload_bytes,
        "request_url": (
            url(request, "consultation-new", query={"case_id": str(case.id)})
            if can_write and status in cases_svc.EDITABLE
            else None
        ),
    }


def _values_of(case: Case) -> dict[str, str]:
    return {k: "" if getattr(case, k) is None else str(getattr(case, k)) for k in FIELDS}


async def case_edit(request: web.Request) -> web.StreamResponse:
    """The form to edit a case's clinical summary while it is still being prepared."""
    actor = require_actor(request)
    case_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        case = await cases_svc.get_case(session=session, case_id=case_id, actor=actor, write=True)
    context = {
        "values": _values_of(case),
        "errors": {},
        "case": case,
        "patient": None,
        "patients": [],
        "urgencies": list(Urgency),
        "locked": case.status not in cases_svc.EDITABLE,
    }
    return await render(request, "cases/form.html", context)


async def case_update(request: web.Request) -> web.StreamResponse:
    """Save the clinical summary; a closed or scheduled case stays as it was."""
    actor = require_actor(request)
    case_id = parse_id(request.match_info["id"], NOT_FOUND)
    data = await form_data(request)
    values = {k: data.get(k, "") for k in FIELDS}
    async with request.app[sessions_key]() as session:
        case = await cases_svc.get_case(
            session=session,
            case_id=case_id,
            actor=actor,
        )
        try:
            model = parse(CaseUpdate, _cleaned(values))
            case = await cases_svc.update_case(
                session=session, case_id=case_id, data=model, actor=actor
            )
        except (Invalid, Conflict) as exc:
            context = {
                "values": values,
                "errors": _case_errors(request, exc),
                "case": case,
                "patient": None,
                "patients": [],
                "urgencies": list(Urgency),
            }
            return await render(request, "cases/form.html", context, status=400)
    response = see_other(url(request, "case", id=str(case.id)))
    flash(request, response, gettext(request, "Đã lưu hồ sơ"))
    return response


async def case_status(request: web.Request) -> web.StreamResponse:
    """Move a case along its status machine (submit, back to draft, close)."""
    actor = require_actor(request)
    case_id = parse_id(request.match_info["id"], NOT_FOUND)
    data = await form_data(request)
    wanted = data.get("to", "")
    if wanted not in set(CaseStatus) or CaseStatus(wanted) not in MANUAL_TARGETS:
        raise Invalid(msg("Trạng thái không hợp lệ"), fields={"to": msg("Giá trị không hợp lệ")})
    to = CaseStatus(wanted)
    async with request.app[sessions_key]() as session:
        await cases_svc.transition(
            session=session, case_id=case_id, to=to, actor=actor, note=data.get("note", "")[:200]
        )
    response = see_other(url(request, "case", id=str(case_id)))
    flash(request, response, gettext(request, STATUS_DONE[to]))
    return response


def add_routes(app: web.Application) -> None:
    """Register the case file pages."""
    app.router.add_get("/cases", case_list, name="cases")
    app.router.add_get("/cases/new", case_new, name="case-new")
    app.router.add_post("/cases", case_create, name="case-create")
    app.router.add_get("/cases/{id}", case_detail, name="case")
    app.router.add_get("/cases/{id}/edit", case_edit, name="case-edit")
    app.router.add_post("/cases/{id}", case_update, name="case-update")
    app.router.add_post("/cases/{id}/status", case_status, name="case-status")
    add_nav(
        app,
        NavItem(
            "cases",
            N_("Hồ sơ hội chẩn"),
            roles=frozenset({Role.doctor, Role.coordinator, Role.specialist}),
            order=15,
        ),
    )
