"""Minutes of a consultation, one per case: draft, save, confirm by the chair and the secretary
(then final and immutable), amend (a new linked version)."""

from __future__ import annotations

from aiohttp import web

from records.errors import Conflict
from records.models import MinutesConfirm, MinutesPublic, MinutesStatus, MinutesUpdate
from records.services import minutes as svc
from records.services import minutes_signing as signing

from ..minutes_pdf import publish
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
    summary=(
        "Confirm the minutes with one's password (the chair, the secretary); once both have, "
        "the minutes are numbered and final"
    ),
    body=MinutesConfirm,
    response=MinutesPublic,
    errors=(400, 401, 403, 404, 409, 429),
)
async def finalize_minutes(request: web.Request) -> web.Response:
    """Confirm (and, with both confirmations, finalise) the minutes."""
    data = await body(request, MinutesConfirm)
    async with sessions(request)() as session:
        minutes = await signing.confirm(
            session=session,
            consultation_id=path_uuid(request),
            case_id=path_uuid(request, "case_id"),
            actor=actor(request),
            password=data.password,
        )
        if minutes.status == MinutesStatus.final:
            # The minutes are final either way; without a certificate the PDF waits for the
            # first download (the page's), and the answer says so by a null pdf_attachment_id.
            try:
                await publish(request.app, session, minutes, actor(request))
            except Conflict:
                await session.rollback()
                await session.refresh(minutes)
    return one(MinutesPublic, minutes)


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/minutes/{case_id}/amend",
    name="api-minutes-amend",
    summary="Start an amendment of final minutes: a new linked draft version (chair only)",
    response=MinutesPublic,
    status=201,
    errors=(401, 403, 404, 409),
)
async def amend_minutes(request: web.Request) -> web.Response:
    """Start an amendment."""
    async with sessions(request)() as session:
        minutes = await signing.amend(
            session=session,
            consultation_id=path_uuid(request),
            case_id=path_uuid(request, "case_id"),
            actor=actor(request),
        )
    return one(MinutesPublic, minutes, status=201)
