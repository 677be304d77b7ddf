"""Minutes of a consultation, one per case: draft, save, finalise (then immutable)."""

from __future__ import annotations

from aiohttp import web

from records.models import MinutesPublic, MinutesUpdate
from records.services import minutes as svc

from .common import actor, body, json, one, path_uuid, sessions
from .registry import ApiRoutes

routes = ApiRoutes(tag="minutes")


@routes.route(
    "GET",
    "/api/v1/consultations/{id}/minutes",
    name="api-minutes-list",
    summary="The minutes of every case of a consultation",
    response=MinutesPublic,
    many=True,
)
async def list_minutes(request: web.Request) -> web.Response:
    """List a consultation's minutes."""
    async with sessions(request)() as session:
        items = await svc.list_minutes(
            session=session,
            consultation_id=path_uuid(request),
            actor=actor(request),
        )
    out = [MinutesPublic.model_validate(m, from_attributes=True) for m in items]
    return json({"items": out, "total": len(out), "limit": len(out), "offset": 0})


@routes.route(
    "GET",
    "/api/v1/consultations/{id}/minutes/{case_id}",
    name="api-minutes",
    summary="The minutes about one case (for the chair, an unsaved pre-filled draft if none yet)",
    response=MinutesPublic,
)
async def get_minutes(request: web.Request) -> web.Response:
    """Read the minutes about a case, or the chair's pre-filled draft."""
    async with sessions(request)() as session:
        minutes = await svc.read_minutes(
            session=session,
            consultation_id=path_uuid(request),
            case_id=path_uuid(request, "case_id"),
            actor=actor(request),
        )
    return one(MinutesPublic, minutes)


@routes.route(
    "PUT",
    "/api/v1/consultations/{id}/minutes/{case_id}",
    name="api-minutes-save",
    summary="Save the draft minutes (chair only; final minutes are refused with 409)",
    body=MinutesUpdate,
    response=MinutesPublic,
    errors=(400, 401, 403, 404, 409),
)
async def save_minutes(request: web.Request) -> web.Response:
    """Save a draft."""
    data = await body(request, MinutesUpdate)
    async with sessions(request)() as session:
        minutes = await svc.save_draft(
            session=session,
            consultation_id=path_uuid(request),
            case_id=path_uuid(request, "case_id"),
            data=data,
            actor=actor(request),
        )
    return one(MinutesPublic, minutes)


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/minutes/{case_id}/finalize",
    name="api-minutes-finalize",
    summary="Make the minutes final (chair only); they can no longer change",
    response=MinutesPublic,
    errors=(401, 403, 404, 409),
)
async def finalize_minutes(request: web.Request) -> web.Response:
    """Finalise the minutes."""
    async with sessions(request)() as session:
        minutes = await svc.finalize(
            session=session,
            consultation_id=path_uuid(request),
            case_id=path_uuid(request, "case_id"),
            actor=actor(request),
        )
    return one(MinutesPublic, minutes)
