"""Patients: list with accent-insensitive search, create, edit, detail with their cases."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from records import access
from records.errors import Conflict, Invalid
from records.messages import N_
from records.models import PatientCreate, PatientUpdate, Role
from records.services import cases as cases_svc
from records.services import patients as patients_svc

from ..i18n import gettext
from ..keys import sessions_key
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

NOT_FOUND = N_("Không tìm thấy bệnh nhân")
FIELDS = (
    "mrn",
    "full_name",
    "sex",
    "birth_date",
    "birth_year",
    "insurance_number",
    "address",
    "phone",
    "ethnicity",
    "occupation",
    "citizen_id",
)
OPTIONAL = (
    "birth_date",
    "birth_year",
    "insurance_number",
    "address",
    "phone",
    "ethnicity",
    "occupation",
    "citizen_id",
)
# Errors of the whole patient (birth date vs. year) are shown next to the year of birth.
_WHOLE = "_"


def _patient_errors(request: web.Request, exc: Invalid | Conflict) -> dict[str, str]:
    fields = error_fields(request, exc)
    if _WHOLE in fields:
        fields.setdefault("birth_year", fields.pop(_WHOLE))
    return fields or {_WHOLE: error_message(request, exc)}


def _cleaned(data: dict[str, str]) -> dict[str, Any]:
    """Form values as the models take them: the insurance number without spaces, upper-cased."""
    cleaned = clean_form(data, OPTIONAL)
    if isinstance(cleaned.get("insurance_number"), str):
        cleaned["insurance_number"] = cleaned["insurance_number"].replace(" ", "").upper()
    return cleaned


def _form_values(data: dict[str, str]) -> dict[str, str]:
    return {k: data.get(k, "") for k in FIELDS}


async def patient_list(request: web.Request) -> web.StreamResponse:
    """Patients the user may see; the search ignores diacritics (Nguyen finds Nguyễn)."""
    actor = require_actor(request)
    q = request.query.get("q", "").strip()[:120]
    offset = page_offset(request)
    async with request.app[sessions_key]() as session:
        result = await patients_svc.list_patients(
            session=session, actor=actor, q=q or None, limit=PAGE_SIZE, offset=offset
        )
    context = {
        "q": q,
        "patients": result.items,
        "page": pager(
            request, offset=offset, limit=PAGE_SIZE, count=len(result.items), total=result.total
        ),
        "can_create": access.can_register_patients(actor),
    }
    return await render(request, "patients/list.html", context)


async def patient_new(request: web.Request) -> web.StreamResponse:
    """The form for a new patient (doctors register patients of their own facility)."""
    actor = require_actor(request)
    refusal = N_("Chỉ bác sĩ của cơ sở mới được thêm bệnh nhân")
    await require_doctor(request, actor, object_type="patient", need="create", refusal=refusal)
    return await render(
        request, "patients/form.html", {"values": {"sex": ""}, "errors": {}, "patient": None}
    )


async def patient_create(request: web.Request) -> web.StreamResponse:
    """Register a patient at the user's facility; errors come back next to their fields."""
    actor = require_actor(request)
    data = _form_values(await form_data(request))
    try:
        model = parse(PatientCreate, _cleaned(data))
        async with request.app[sessions_key]() as session:
            patient = await patients_svc.create_patient(session=session, data=model, actor=actor)
    except (Invalid, Conflict) as exc:
        context = {"values": data, "errors": _patient_errors(request, exc), "patient": None}
        return await render(request, "patients/form.html", context, status=400)
    response = see_other(url(request, "patient", id=str(patient.id)))
    flash(request, response, gettext(request, "Đã thêm bệnh nhân %(name)s", name=patient.full_name))
    return response


async def patient_detail(request: web.Request) -> web.StreamResponse:
    """A patient's details and their case files."""
    actor = require_actor(request)
    patient_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        patient = await patients_svc.get_patient(
            session=session, patient_id=patient_id, actor=actor
        )
        cases = await cases_svc.list_cases(
            session=session, actor=actor, patient_id=patient.id, limit=100
        )
    context = {
        "patient": patient,
        "cases": cases.items,
        "can_write": access.can_write_clinical(actor, patient.facility_id),
    }
    return await render(request, "patients/detail.html", context)


async def patient_edit(request: web.Request) -> web.StreamResponse:
    """The form to correct a patient's details."""
    actor = require_actor(request)
    patient_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        patient = await patients_svc.get_patient(
            session=session, patient_id=patient_id, actor=actor
        )
    values: dict[str, Any] = {
        k: ("" if getattr(patient, k) is None else str(getattr(patient, k))) for k in FIELDS
    }
    return await render(
        request, "patients/form.html", {"values": values, "errors": {}, "patient": patient}
    )


async def patient_update(request: web.Request) -> web.StreamResponse:
    """Save corrections to a patient (the record number stays)."""
    actor = require_actor(request)
    patient_id = parse_id(request.match_info["id"], NOT_FOUND)
    data = _form_values(await form_data(request))
    async with request.app[sessions_key]() as session:
        patient = await patients_svc.get_patient(
            session=session, patient_id=patient_id, actor=actor
        )
        try:
            changes = _cleaned({k: v for k, v in data.items() if k != "mrn"})
            model = parse(PatientUpdate, changes)
            patient = await patients_svc.update_patient(
                session=session, patient_id=patient_id, data=model, actor=actor
            )
        except (Invalid, Conflict) as exc:
            data["mrn"] = patient.mrn
            context = {"values": data, "errors": _patient_errors(request, exc), "patient": patient}
            return await render(request, "patients/form.html", context, status=400)
    response = see_other(url(request, "patient", id=str(patient.id)))
    flash(request, response, gettext(request, "Đã lưu thông tin bệnh nhân"))
    return response


def add_routes(app: web.Application) -> None:
    """Register the patient pages."""
    app.router.add_get("/patients", patient_list, name="patients")
    app.router.add_get("/patients/new", patient_new, name="patient-new")
    app.router.add_post("/patients", patient_create, name="patient-create")
    app.router.add_get("/patients/{id}", patient_detail, name="patient")
    app.router.add_get("/patients/{id}/edit", patient_edit, name="patient-edit")
    app.router.add_post("/patients/{id}", patient_update, name="patient-update")
    add_nav(
        app,
        NavItem(
            "patients", N_("Bệnh nhân"), roles=frozenset({Role.doctor, Role.coordinator}), order=10
        ),
    )
