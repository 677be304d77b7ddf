"""A table of API endpoints: the routes and the OpenAPI document are built from the same entries."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from ..security import require_actor

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True, slots=True)
class Param:
    """A query or path parameter, for the OpenAPI document."""

    name: str
    description: str
    type: str = "string"
    fmt: str | None = None
    required: bool = False
    enum: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API operation."""

    method: Method
    path: str
    name: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    many: bool = False
    status: int = 200
    query: tuple[Param, ...] = ()
    # Non-JSON bodies and answers: multipart uploads, file downloads, CSV.
    request_content: str | None = None
    response_content: str | None = None
    public: bool = False
    errors: tuple[int, ...] = (400, 401, 404)


@dataclass
class ApiRoutes:
    """Collects endpoints with a decorator; `add_to` registers them as named routes."""

    tag: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: Method,
        path: str,
        *,
        name: str,
        summary: str,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        many: bool = False,
        status: int = 200,
        query: tuple[Param, ...] = (),
        request_content: str | None = None,
        response_content: str | None = None,
        public: bool = False,
        errors: tuple[int, ...] = (400, 401, 404),
    ) -> Callable[[Handler], Handler]:
        """Declare an endpoint."""

        def decorate(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    name=name,
                    handler=handler,
                    summary=summary,
                    tag=self.tag,
                    body=body,
                    response=response,
                    many=many,
                    status=status,
                    query=query,
                    request_content=request_content,
                    response_content=response_content,
                    public=public,
                    errors=errors,
                )
            )
            return handler

        return decorate

    def add_to(self, app: web.Application) -> None:
        """Register every endpoint as a named route; non-public ones refuse anonymous callers."""
        for ep in self.endpoints:
            handler = ep.handler if ep.public else signed_in_only(ep.handler)
            app.router.add_route(ep.method, ep.path, handler, name=ep.name)


def signed_in_only(handler: Handler) -> Handler:
    """Answer 401 before reading anything of the request when nobody is signed in."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        require_actor(request)
        return await handler(request)

    return guarded


PAGING = (
    Param("limit", "page size (1–200, default 50)", "integer"),
    Param("offset", "how many matches to skip", "integer"),
)
