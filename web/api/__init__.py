"""The JSON API under /api/v1/: thin handlers over the records services."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import (
    attachments,
    audit,
    auth,
    cases,
    consultations,
    directory,
    minutes,
    nettest,
    outcomes,
    patients,
    workflow,
)
from .common import json
from .openapi import build_openapi
from .registry import ApiRoutes, Endpoint

# The tables registered here; the account routes register themselves (auth.add_routes).
ROUTE_TABLES: tuple[ApiRoutes, ...] = (
    patients.routes,
    cases.routes,
    attachments.routes,
    consultations.routes,
    minutes.routes,
    outcomes.routes,
    directory.routes,
    audit.routes,
    nettest.routes,
    workflow.routes,
)

meta = ApiRoutes(tag="meta")
_document_key: web.AppKey[dict[str, Any]] = web.AppKey("api_openapi_document")


@meta.route(
    "GET",
    "/api/v1/openapi.json",
    name="api-openapi",
    summary="This document: the API as OpenAPI 3.1",
    public=True,
    errors=(),
)
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this server."""
    return json(request.app[_document_key])


def endpoints() -> list[Endpoint]:
    """Every documented API endpoint, the account routes and this document included."""
    tables = (*ROUTE_TABLES, auth.routes, meta)
    return [ep for table in tables for ep in table.endpoints]


def add_routes(app: web.Application) -> None:
    """Register the API routes and the OpenAPI document."""
    for table in ROUTE_TABLES:
        table.add_to(app)
    auth.add_routes(app)
    meta.add_to(app)
    app[_document_key] = build_openapi(endpoints())
