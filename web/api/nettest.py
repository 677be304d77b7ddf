"""The network test ("kiểm tra đường truyền"): an echo peer for the browser, and its results."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel, Field

from records.errors import Invalid
from records.messages import N_, msg
from records.models import NetworkTestCreate, NetworkTestPublic
from records.services import network_tests as svc

from ..errors import error_body
from ..i18n import gettext
from .common import actor, body, json, sessions
from .registry import ApiRoutes, Param

routes = ApiRoutes(tag="network-test")

BUSY_MESSAGE = N_("Máy chủ đang bận kiểm tra cho người khác, vui lòng thử lại sau một phút.")


class EchoUnavailable(Exception):
    """Every echo peer is in use."""


class EchoRefused(Exception):
    """The browser's offer could not be used."""


class NetworkEcho(Protocol):
    """The server-side echo peers, as the application provides them."""

    async def answer(self, sdp: str) -> dict[str, Any]:
        """`{"id", "sdp", "max_seconds"}` for a complete offer; raise EchoUnavailable/Refused."""
        ...

    async def close(self, echo_id: str) -> bool:
        """Close an echo peer early; False when it was not open."""
        ...


echo_key: web.AppKey[NetworkEcho] = web.AppKey("network_echo")


class EchoOffer(BaseModel):
    """The browser's offer, with its ICE candidates gathered (no trickling over HTTP)."""

    sdp: str = Field(min_length=10, max_length=60_000)


class EchoAnswerOut(BaseModel):
    """The echo's answer."""

    id: str
    sdp: str
    type: str = "answer"
    max_seconds: float


@routes.route(
    "POST",
    "/api/v1/network-test/offer",
    name="api-nettest-offer",
    summary="Start a network test: an echo peer answers the browser's offer (503 when busy)",
    body=EchoOffer,
    response=EchoAnswerOut,
    errors=(400, 401, 503),
)
async def offer(request: web.Request) -> web.Response:
    """Answer an offer with a server-side echo peer."""
    actor(request)
    data = await body(request, EchoOffer)
    try:
        answer = await request.app[echo_key].answer(data.sdp)
    except EchoUnavailable:
        return json(error_body("busy", gettext(request, BUSY_MESSAGE)), status=503)
    except EchoRefused:
        raise Invalid(
            msg("Trình duyệt gửi thông tin kết nối không hợp lệ"),
            fields={"sdp": msg("Không dùng được")},
        ) from None
    return json(
        {
            "id": answer["id"],
            "sdp": answer["sdp"],
            "type": "answer",
            "max_seconds": answer["max_seconds"],
        }
    )


@routes.route(
    "POST",
    "/api/v1/network-test/{id}/close",
    name="api-nettest-close",
    summary="Close an echo peer early (the page was left or the test is over)",
    status=204,
)
async def close(request: web.Request) -> web.Response:
    """Close one echo peer; closing an unknown or finished one is not an error."""
    actor(request)
    await request.app[echo_key].close(request.match_info["id"][:64])
    return web.Response(status=204)


@routes.route(
    "POST",
    "/api/v1/network-test/results",
    name="api-nettest-results",
    summary="Store the signed-in user's network test figures; the verdict follows from them",
    body=NetworkTestCreate,
    response=NetworkTestPublic,
    status=201,
)
async def store_result(request: web.Request) -> web.Response:
    """Store a result."""
    who = actor(request)
    data = await body(request, NetworkTestCreate)
    async with sessions(request)() as session:
        result = await svc.record_result(session=session, actor=who, data=data)
    return json(
        NetworkTestPublic.model_validate(result, from_attributes=True).model_dump(), status=201
    )


@routes.route(
    "GET",
    "/api/v1/network-test/results",
    name="api-nettest-mine",
    summary="The signed-in user's recent network test results, newest first",
    response=NetworkTestPublic,
    many=True,
)
async def my_results(request: web.Request) -> web.Response:
    """List the user's own results."""
    who = actor(request)
    async with sessions(request)() as session:
        rows = await svc.list_mine(session=session, actor=who)
    return json(
        [NetworkTestPublic.model_validate(r, from_attributes=True).model_dump() for r in rows]
    )


MAX_USERS = 50


@routes.route(
    "GET",
    "/api/v1/network-test/latest",
    name="api-nettest-latest",
    summary="Each listed user's latest network test (coordinators and admins; anyone for self)",
    response=NetworkTestPublic,
    many=True,
    query=(Param("user_id", "a user (repeat for several, at most 50)", fmt="uuid", required=True),),
    errors=(400, 401, 403),
)
async def latest(request: web.Request) -> web.Response:
    """The most recent result of each user, to show beside invitees before a session."""
    who = actor(request)
    raw = request.query.getall("user_id", [])
    if not raw or len(raw) > MAX_USERS:
        raise Invalid(
            msg("Cần từ 1 đến 50 người dùng"), fields={"user_id": msg("Số lượng không hợp lệ")}
        )
    try:
        ids = [uuid.UUID(value) for value in raw]
    except ValueError:
        raise Invalid(
            msg("Tham số không hợp lệ"), fields={"user_id": msg("Mã định danh không hợp lệ")}
        ) from None
    async with sessions(request)() as session:
        found = await svc.latest_for_users(session=session, actor=who, user_ids=ids)
    return json(
        [
            NetworkTestPublic.model_validate(r, from_attributes=True).model_dump()
            for r in found.values()
        ]
    )
