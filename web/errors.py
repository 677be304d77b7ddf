"""One place that turns domain errors and unexpected failures into HTTP answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.helpers import parse_mimetype
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError

from records.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    RecordsError,
    StorageFault,
    Throttled,
    TooLarge,
    Unauthenticated,
)
from records.messages import N_, Message, msg

from .i18n import gettext, translate
from .limits import SlowBody
from .validation import NUL_CHARACTER, invalid_from

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HtmlErrorRenderer = Callable[[web.Request, int, str, str], Awaitable[web.StreamResponse]]
# Pages register a renderer here so HTML requests get a page; JSON otherwise.
html_error_key: web.AppKey[HtmlErrorRenderer] = web.AppKey("html_error_renderer")

STATUS: list[tuple[type[RecordsError], int]] = [
    (TooLarge, 413),
    (SlowBody, 408),
    (Invalid, 400),
    (NotFound, 404),
    (Conflict, 409),
    (Forbidden, 403),
    (Unauthenticated, 401),
    (Throttled, 429),
    # Damaged stored data: logged, and reported as the server's failure it is.
    (StorageFault, 500),
]

_HTTP_MESSAGES = {
    400: ("bad-request", N_("Yêu cầu không hợp lệ")),
    401: ("unauthenticated", N_("Vui lòng đăng nhập")),
    403: ("forbidden", N_("Bạn không có quyền thực hiện thao tác này")),
    404: ("not-found", N_("Không tìm thấy")),
    405: ("method-not-allowed", N_("Phương thức không được hỗ trợ")),
    413: ("too-large", N_("Dữ liệu gửi lên quá lớn")),
    415: ("unsupported-media-type", N_("Định dạng dữ liệu không được hỗ trợ")),
    429: ("throttled", N_("Quá nhiều yêu cầu, vui lòng thử lại sau")),
    500: ("internal", N_("Đã có lỗi phía máy chủ. Vui lòng thử lại sau.")),
}


def status_for(exc: RecordsError) -> int:
    """The HTTP status of a domain error."""
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def wants_json(request: web.Request) -> bool:
    """Whether the client should get a JSON error rather than a page."""
    if request.path.startswith("/api/") or request.path.startswith("/ws/"):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, object]:
    """The one JSON shape of API errors: code, message, field messages (maybe {}).

    Messages speak the request's language (Vietnamese unless the ``lang`` cookie or the
    configured default says otherwise).
    """
    return {"error": {"code": code, "message": message, "fields": dict(fields or {})}}


def error_texts(request: web.Request, exc: RecordsError) -> tuple[str, dict[str, str]]:
    """A domain error's message and field messages in the language of the request."""
    fields = {name: translate(request, text) for name, text in exc.fields.items()}
    return translate(request, exc.text), fields


async def _respond(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    renderer = request.app.get(html_error_key)
    resp: web.StreamResponse
    if renderer is not None and not wants_json(request):
        resp = await renderer(request, status, code, message)
    else:
        resp = web.Response(
            body=orjson.dumps(error_body(code, message, fields)),
            status=status,
            content_type="application/json",
        )
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


BAD_BODY = N_("Dữ liệu gửi lên không đúng định dạng")


def refuse_malformed(request: web.Request) -> None:
    """Refuse what no handler can read, before any of them (or an access check) runs.

    A NUL in the path or a query parameter (PostgreSQL cannot store it, SQLite's full-text
    search reads it as the end of the query), and a multipart body without its boundary.
    """
    fields: dict[str, Message] = {}
    if "\x00" in request.path:
        fields["_"] = msg(NUL_CHARACTER)
    for key, value in request.query.items():
        if "\x00" in key or "\x00" in value:
            fields[key.replace("\x00", "")] = msg(NUL_CHARACTER)
    if fields:
        raise Invalid(msg("Tham số không hợp lệ"), fields=fields)
    content_type = request.headers.get("Content-Type", "")
    if content_type.lower().lstrip().startswith("multipart/"):
        if not parse_mimetype(content_type).parameters.get("boundary"):
            raise Invalid(msg("Dữ liệu multipart thiếu tham số boundary"))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer domain errors with a 4xx and anything unexpected with a plain 500, never a trace."""
    try:
        refuse_malformed(request)
        return await handler(request)
    except ValidationError as exc:
        # A model checked again inside a service (a value the handler let through).
        return await _domain_error(request, invalid_from(exc))
    except HttpProcessingError as exc:
        # The body's own syntax, found while a handler reads it (a multipart part's headers).
        if not 400 <= (exc.code or 400) < 500:
            raise
        log.info("malformed body on %s %s: %s", request.method, request.path, exc.message)
        return await _domain_error(request, Invalid(msg(BAD_BODY)))
    except RecordsError as exc:
        return await _domain_error(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.status == 101:
            raise
        code, message = _HTTP_MESSAGES.get(exc.status, ("error", exc.reason))
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "location")}
        return await _respond(request, exc.status, code, gettext(request, message), headers=headers)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        code, message = _HTTP_MESSAGES[500]
        return await _respond(request, 500, code, gettext(request, message))


async def _domain_error(request: web.Request, exc: RecordsError) -> web.StreamResponse:
    """A domain error as its status, message and field messages."""
    headers = {}
    if isinstance(exc, StorageFault):
        log.error("storage fault on %s %s: %s", request.method, request.path, exc.message)
    if isinstance(exc, Throttled) and exc.retry_after:
        headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
    message, fields = error_texts(request, exc)
    resp = await _respond(request, status_for(exc), exc.code, message, fields, headers)
    if isinstance(exc, (TooLarge, SlowBody)) and request.protocol is not None:
        # The rest of the body is not read (not even drained for a while, as aiohttp would):
        # the answer is sent and the connection ends.
        resp.force_close()
        await resp.prepare(request)
        await resp.write_eof()
        request.protocol.force_close()
    return resp


# The one way other middlewares answer with an error (a page or JSON, as the request wants).
respond_error = _respond
