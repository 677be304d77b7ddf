"""The OpenAPI 3.1 document, generated from the endpoint table and the models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .registry import Endpoint

REF = "#/components/schemas/{model}"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid", "not-found", "conflict"]},
                "message": {"type": "string", "description": "Vietnamese, for people"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "field → message (Vietnamese); {} when no field is at fault",
                },
            },
        }
    },
}

_STATUS_TEXT = {
    400: "Invalid input; nothing was changed",
    401: "Not signed in",
    403: "Refused (CSRF, origin, or not allowed to do this)",
    404: "Not found, or not visible to this user",
    409: "Conflicts with the current state",
    413: "Too large",
    415: "The body must be JSON (Content-Type: application/json)",
    429: "Too many attempts",
}


def _path_params(path: str) -> list[dict[str, Any]]:
    # Every path parameter of this API is an object's UUID.
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for n in re.findall(r"{(\w+)(?::[^}]*)?}", path)
    ]


def _clean(path: str) -> str:
    return re.sub(r"{(\w+):[^}]*}", r"{\1}", path)


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": REF.format(model=model.__name__)}


def _operation(ep: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": ep.name, "summary": ep.summary, "tags": [ep.tag]}
    params = _path_params(ep.path)
    for q in ep.query:
        schema: dict[str, Any] = {"type": q.type}
        if q.fmt:
            schema["format"] = q.fmt
        if q.enum:
            schema["enum"] = list(q.enum)
        params.append(
            {
                "name": q.name,
                "in": "query",
                "required": q.required,
                "description": q.description,
                "schema": schema,
            }
        )
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(ep.body)}},
        }
    elif ep.request_content:
        op["requestBody"] = {
            "required": True,
            "content": {ep.request_content: {"schema": {"type": "object"}}},
        }
    responses: dict[str, Any] = {}
    if ep.response_content:
        responses[str(ep.status)] = {
            "description": "OK",
            "content": {ep.response_content: {"schema": {"type": "string", "format": "binary"}}},
        }
    elif ep.response is not None:
        schema = _ref(ep.response)
        if ep.many:
            schema = {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": _ref(ep.response)},
                    "total": {"type": "integer"},
                    "total_exact": {
                        "type": "boolean",
                        "description": "false: at least `total` match (a long list stops "
                        "counting a thousand past the page)",
                    },
                    "limit": {"type": "integer"},
                    "offset": {"type": "integer"},
                    "next": {
                        "type": ["string", "null"],
                        "description": "lists paged by key: the `after` of the next page "
                        "(null: this is the last)",
                    },
                },
            }
        responses[str(ep.status)] = {
            "description": "OK",
            "content": {"application/json": {"schema": schema}},
        }
    else:
        responses[str(ep.status)] = {"description": "No content" if ep.status == 204 else "OK"}
    errors = set(ep.errors)
    if ep.body is not None:
        errors |= {400, 413, 415}
    if ep.query:
        errors.add(400)
    if not ep.public:
        errors.add(401)
    for code in sorted(errors):
        responses[str(code)] = {
            "description": _STATUS_TEXT.get(code, "Error"),
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
        }
    op["responses"] = responses
    if ep.public:
        op["security"] = []
    return op


def build_openapi(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    """The OpenAPI document for these endpoints."""
    eps = list(endpoints)
    models: dict[str, type[BaseModel]] = {}
    for ep in eps:
        for m in (ep.body, ep.response):
            if m is not None:
                models[m.__name__] = m
    _, defs = models_json_schema([(m, "validation") for m in models.values()], ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for ep in eps:
        paths.setdefault(_clean(ep.path), {})[ep.method.lower()] = _operation(ep)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Telemed API",
            "version": "1",
            "description": "Case files, consultations and minutes for online case conferences. "
            'Errors are JSON {"error": {"code", "message", "fields"}} (see docs/api.md).',
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "telemed_session"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths,
    }
