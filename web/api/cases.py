"""Case files: list, create, read, edit, status transitions and history."""

from __future__ import annotations

from aiohttp import web
from sqlmodel import SQLModel

from records.models import (
    CaseCreate,
    CaseEventPublic,
    CasePublic,
    CaseStatus,
    CaseUpdate,
    Urgency,
)
from records.services import cases as svc

from .common import (
    actor,
    body,
    json,
    one,
    page,
    paging,
    path_uuid,
    query_enum,
    query_text,
    query_uuid,
    sessions,
)
from .registry import PAGING, ApiRoutes, Param

routes = ApiRoutes(tag="cases")


class CaseTransition(SQLModel):
    """A requested status change."""

    status: CaseStatus


@routes.route(
    "GET",
    "/api/v1/cases",
    name="api-cases",
    summary="List case files visible to the caller",
    response=CasePublic,
    many=True,
    query=(
        Param("status", "case status", enum=tuple(CaseStatus)),
        Param("urgency", "urgency", enum=tuple(Urgency)),
        Param("patient_id", "only this patient's cases", fmt="uuid"),
        Param("q", "words of the title (accents optional)"),
        *PAGING,
        Param("after", "continue after this page: the previous page's `next` (offset ignored)"),
    ),
)
async def list_cases(request: web.Request) -> web.Response:
    """List cases."""
    limit, offset = paging(request)
    status = query_enum(request, "status", list(CaseStatus))
    urgency = query_enum(request, "urgency", list(Urgency))
    async with sessions(request)() as session:
        result = await svc.list_cases(
            session=session,
            actor=actor(request),
            status=CaseStatus(status) if status else None,
            urgency=Urgency(urgency) if urgency else None,
            patient_id=query_uuid(request, "patient_id"),
            q=query_text(request, "q"),
            limit=limit,
            offset=offset,
            after=query_text(request, "after"),
        )
    return page(CasePublic, result)


@routes.route(
    "POST",
    "/api/v1/cases",
    name="api-cases-create",
    summary="Create a case file (draft) for a patient of the caller's facility",
    body=CaseCreate,
    response=CasePublic,
    status=201,
)
async def create_case(request: web.Request) -> web.Response:
    """Create a case."""
    data = await body(request, CaseCreate)
    async with sessions(request)() as session:
        case = await svc.create_case(session=session, data=data, actor=actor(request))
    return one(CasePublic, case, status=201)


@routes.route(
    "GET",
    "/api/v1/cases/{id}",
    name="api-case",
    summary="Read a case file (audited)",
    response=CasePublic,
)
async def get_case(request: web.Request) -> web.Response:
    """Read a case."""
    async with sessions(request)() as session:
        case = await svc.get_case(
            session=session,
            case_id=path_uuid(request),
            actor=actor(request),
        )
    return one(CasePublic, case)


@routes.route(
    "PATCH",
    "/api/v1/cases/{id}",
    name="api-case-update",
    summary="Edit the clinical summary (draft or submitted cases)",
    body=CaseUpdate,
    response=CasePublic,
    errors=(400, 401, 403, 404, 409),
)
async def update_case(request: web.Request) -> web.Response:
    """Update a case."""
    data = await body(request, CaseUpdate)
    async with sessions(request)() as session:
        case = await svc.update_case(
            session=session, case_id=path_uuid(request), data=data, actor=actor(request)
        )
    return one(CasePublic, case)


@routes.route(
    "POST",
    "/api/v1/cases/{id}/status",
    name="api-case-status",
    summary="Move a case to another status; illegal transitions are refused with 409",
    body=CaseTransition,
    response=CasePublic,
    errors=(400, 401, 403, 404, 409),
)
async def transition_case(request: web.Request) -> web.Response:
    """Change a case's status."""
    data = await body(request, CaseTransition)
    async with sessions(request)() as session:
        case = await svc.transition(
            session=session, case_id=path_uuid(request), to=data.status, actor=actor(request)
        )
    return one(CasePublic, case)


@routes.route(
    "GET",
    "/api/v1/cases/{id}/history",
    name="api-case-history",
    summary="The case file's history",
    response=CaseEventPublic,
    many=True,
)
async def case_history(request: web.Request) -> web.Response:
    """A case's history."""
    async with sessions(request)() as session:
        events = await svc.history(
            session=session,
            case_id=path_uuid(request),
            actor=actor(request),
        )
    items = [CaseEventPublic.model_validate(e, from_attributes=True) for e in events]
    return json({"items": items, "total": len(items), "limit": len(items), "offset": 0})
