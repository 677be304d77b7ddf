"""The OpenAPI document: well formed, and exactly the routes the server has under /api/v1."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from apitools import Api

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def check_openapi_31(doc: dict[str, Any]) -> None:
    """The structural rules of OpenAPI 3.1 that this document can break."""
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    schemes = doc["components"]["securitySchemes"]
    for requirement in doc["security"]:
        assert set(requirement) <= set(schemes)
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref
    operation_ids: set[str] = set()
    for path, item in doc["paths"].items():
        assert path.startswith("/"), path
        templated = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            assert method in METHODS, (path, method)
            assert op["operationId"] not in operation_ids, op["operationId"]
            operation_ids.add(op["operationId"])
            params = op.get("parameters", [])
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == templated, (path, method)
            for p in params:
                assert p["in"] in ("path", "query", "header", "cookie")
                assert "schema" in p and isinstance(p["name"], str)
                if p["in"] == "path":
                    assert p["required"] is True
            assert op["responses"], (path, method)
            for status, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status), status
                assert response["description"]
                for media in response.get("content", {}).values():
                    assert "schema" in media
            if "requestBody" in op:
                assert op["requestBody"]["content"]
            for requirement in op.get("security", []):
                assert set(requirement) <= set(schemes)


def router_operations(api: Api) -> set[tuple[str, str]]:
    """(METHOD, path template) of every route the server has under /api/v1."""
    found: set[tuple[str, str]] = set()
    for resource in api.client.app.router.resources():
        path = resource.canonical
        if not path.startswith("/api/v1/"):
            continue
        for route in resource:
            if route.method not in ("HEAD", "OPTIONS"):
                found.add((route.method, re.sub(r"{(\w+):[^}]*}", r"{\1}", path)))
    return found


async def test_document_is_valid_and_matches_the_router(api: Api) -> None:
    reply = await api.get("/api/v1/openapi.json", user=None)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    doc = reply.json
    check_openapi_31(doc)
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    served = router_operations(api)
    assert served - documented == set(), "routes missing from the document"
    assert documented - served == set(), "documented routes the server does not have"
    # Everything the issue asks for is there.
    for needed in (
        ("GET", "/api/v1/patients"),
        ("POST", "/api/v1/cases/{id}/attachments"),
        ("GET", "/api/v1/attachments/{id}"),
        ("POST", "/api/v1/consultations/{id}/join"),
        ("GET", "/api/v1/consultations/{id}/minutes"),
        ("GET", "/api/v1/facilities"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/tokens"),
    ):
        assert needed in documented, needed
    schemas = doc["components"]["schemas"]
    assert set(schemas["Error"]["properties"]["error"]["required"]) == {"code", "message", "fields"}
    patients = doc["paths"]["/api/v1/patients"]["get"]
    assert {p["name"] for p in patients["parameters"]} >= {"q", "limit", "offset"}
    assert "401" in patients["responses"] and "400" in patients["responses"]
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def _concrete(path: str, value: str) -> str:
    return re.sub(r"{\w+}", value, path)


async def test_no_request_gets_a_500(api: Api) -> None:
    """Every documented operation, anonymous and signed in, with bad ids and bad bodies."""
    doc = (await api.get("/api/v1/openapi.json", user=None)).json
    bodies: list[dict[str, Any]] = [
        {"data": b"{oops", "headers": {"Content-Type": "application/json"}},
        {"json": ["not", "an", "object"]},
        {"json": {"unexpected": True, "limit": -1}},
        {"data": b"x=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    ]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if op["operationId"] == "api-token-revoke":
                continue  # would end the token the rest of this test uses
            anonymous = await api.call(
                method.upper(), _concrete(path, str(uuid.uuid4())), user=None
            )
            assert anonymous.status < 500, (method, path)
            if op.get("security") != []:
                anonymous.error(401, "unauthenticated")
            for user in ("doctor", "admin"):
                for value in ("not-a-uuid", str(uuid.uuid4())):
                    for body in bodies:
                        reply = await api.call(
                            method.upper(),
                            _concrete(path, value),
                            user=user,
                            params={"limit": "abc"} if method == "get" else None,
                            **body,
                        )
                        assert reply.status < 500, (method, path, user, body, reply.body[:300])
                        if reply.status >= 400:
                            reply.error(reply.status)


async def test_unknown_routes_and_methods_answer_json(api: Api) -> None:
    (await api.get("/api/v1/nothing-here")).error(404, "not-found")
    reply = await api.call("PUT", "/api/v1/patients")
    reply.error(405, "method-not-allowed")
    assert "GET" in reply.headers["Allow"]


async def test_docs_list_every_path(api: Api) -> None:
    doc = (await api.get("/api/v1/openapi.json", user=None)).json
    text = (Path(__file__).parents[3] / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [path for path in doc["paths"] if f"`{path}`" not in text]
    assert missing == [], "docs/api.md does not list these paths"
