"""Patients: list with accent-insensitive search, create, read, update."""

from __future__ import annotations

from aiohttp import web

from records.models import PatientCreate, PatientPublic, PatientUpdate
from records.services import patients as svc

from .common import actor, body, one, page, paging, path_uuid, query_text, sessions
from .registry import PAGING, ApiRoutes, Param

routes = ApiRoutes(tag="patients")


@routes.route(
    "GET",
    "/api/v1/patients",
    name="api-patients",
    summary="List patients visible to the caller; q ignores diacritics and case",
    response=PatientPublic,
    many=True,
    query=(Param("q", "name (accents optional), record number or insurance number"), *PAGING),
)
async def list_patients(request: web.Request) -> web.Response:
    """List patients."""
    limit, offset = paging(request)
    async with sessions(request)() as session:
        result = await svc.list_patients(
            session=session,
            actor=actor(request),
            q=query_text(request, "q"),
            limit=limit,
            offset=offset,
        )
    return page(PatientPublic, result)


@routes.route(
    "POST",
    "/api/v1/patients",
    name="api-patients-create",
    summary="Create a patient at the caller's facility",
    body=PatientCreate,
    response=PatientPublic,
    status=201,
    errors=(400, 401, 403, 409),
)
async def create_patient(request: web.Request) -> web.Response:
    """Create a patient."""
    data = await body(request, PatientCreate)
    async with sessions(request)() as session:
        patient = await svc.create_patient(session=session, data=data, actor=actor(request))
    return one(PatientPublic, patient, status=201)


@routes.route(
    "GET",
    "/api/v1/patients/{id}",
    name="api-patient",
    summary="Read one patient (audited)",
    response=PatientPublic,
)
async def get_patient(request: web.Request) -> web.Response:
    """Read a patient."""
    async with sessions(request)() as session:
        patient = await svc.get_patient(
            session=session, patient_id=path_uuid(request), actor=actor(request)
        )
    return one(PatientPublic, patient)


@routes.route(
    "PATCH",
    "/api/v1/patients/{id}",
    name="api-patient-update",
    summary="Change a patient's details",
    body=PatientUpdate,
    response=PatientPublic,
    errors=(400, 401, 403, 404, 409),
)
async def update_patient(request: web.Request) -> web.Response:
    """Update a patient."""
    data = await body(request, PatientUpdate)
    async with sessions(request)() as session:
        patient = await svc.update_patient(
            session=session, patient_id=path_uuid(request), data=data, actor=actor(request)
        )
    return one(PatientPublic, patient)
