"""The audit log for admins: filtered listing and CSV export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict

from aiohttp import web

from records import audit_export
from records import audit_log as svc
from records.models import AuditEventPublic

from .common import actor, page, paging, query_datetime, query_text, query_uuid, sessions
from .registry import PAGING, ApiRoutes, Param

routes = ApiRoutes(tag="audit")

FILTERS = (
    Param("user_id", "actor", fmt="uuid"),
    Param("patient_id", "patient concerned", fmt="uuid"),
    Param("since", "at or after (ISO 8601)", fmt="date-time"),
    Param("until", "before (ISO 8601)", fmt="date-time"),
    Param("action", "login, view, download, create, update, denied, …"),
)


class Filters(TypedDict):
    """The audit log's filters, read from the query string."""

    user_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    since: datetime | None
    until: datetime | None
    action: str | None


def _filters(request: web.Request) -> Filters:
    return Filters(
        user_id=query_uuid(request, "user_id"),
        patient_id=query_uuid(request, "patient_id"),
        since=query_datetime(request, "since"),
        until=query_datetime(request, "until"),
        action=query_text(request, "action", max_length=40),
    )


@routes.route(
    "GET",
    "/api/v1/audit",
    name="api-audit",
    summary="Audit events, newest first (admin)",
    response=AuditEventPublic,
    many=True,
    query=(*FILTERS, *PAGING),
    errors=(400, 401, 403),
)
async def list_audit(request: web.Request) -> web.Response:
    """List audit events."""
    limit, offset = paging(request)
    async with sessions(request)() as session:
        result = await svc.list_events(
            session=session, actor=actor(request), limit=limit, offset=offset, **_filters(request)
        )
    return page(AuditEventPublic, result)


@routes.route(
    "GET",
    "/api/v1/audit.csv",
    name="api-audit-csv",
    summary=(
        "The filtered audit log as CSV (admin; the export itself is audited): UTF-8 with a "
        "byte order mark, times in Asia/Ho_Chi_Minh"
    ),
    query=FILTERS,
    response_content="text/csv",
    errors=(400, 401, 403),
)
async def export_audit(request: web.Request) -> web.Response:
    """Export audit events as CSV."""
    async with sessions(request)() as session:
        text = await audit_export.export_csv(
            session=session, actor=actor(request), **_filters(request)
        )
    # The byte order mark: without it Excel reads the file as the local code page.
    return web.Response(
        body=text.encode("utf-8-sig"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
