"""Small helpers shared by the API handlers: input, identity, JSON output."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel

from records.actor import Actor
from records.db import SessionMaker
from records.errors import Invalid, NotFound
from records.messages import N_, Message, msg, nmsg, one_of
from records.services import MAX_PAGE, Page, clamp_page

from ..keys import sessions_key
from ..security import require_actor
from ..validation import parse

M = TypeVar("M", bound=BaseModel)

DEFAULT_PAGE = 50
MAX_QUERY_TEXT = 200
PARAM_INVALID = N_("Tham số không hợp lệ")


def sessions(request: web.Request) -> SessionMaker:
    """The database session factory."""
    return request.app[sessions_key]


def actor(request: web.Request) -> Actor:
    """The signed-in actor, or Unauthenticated."""
    return require_actor(request)


def path_uuid(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID from the path; a malformed one names nothing that exists, so it is not found."""
    try:
        return uuid.UUID(request.match_info[name])
    except (KeyError, ValueError):
        raise NotFound(msg("Không tìm thấy")) from None


def _bad_param(name: str, message: Message) -> Invalid:
    return Invalid(msg(PARAM_INVALID), fields={name: message})


def query_text(request: web.Request, name: str, *, max_length: int = MAX_QUERY_TEXT) -> str | None:
    """An optional free-text parameter (search words), bounded in length."""
    raw = request.query.get(name)
    if raw is None or not raw.strip():
        return None
    if len(raw) > max_length:
        raise _bad_param(
            name,
            nmsg("Quá dài (tối đa %(num)d ký tự)", "Quá dài (tối đa %(num)d ký tự)", max_length),
        )
    return raw.strip()


def query_uuid(request: web.Request, name: str) -> uuid.UUID | None:
    """An optional UUID from the query string."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _bad_param(name, msg("Mã định danh không hợp lệ")) from None


def query_int(request: web.Request, name: str) -> int | None:
    """An optional integer from the query string."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        # int() accepts "1_000" and surrounding spaces; a query parameter is plain digits.
        if not raw.lstrip("-").isdigit() or len(raw) > 12:
            raise ValueError(raw)
        return int(raw)
    except ValueError:
        raise _bad_param(name, msg("Phải là số nguyên")) from None


def query_bool(request: web.Request, name: str) -> bool:
    """An optional yes/no flag: true/false, 1/0, yes/no; absent is false."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return False
    value = raw.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise _bad_param(name, msg("Phải là true hoặc false"))


def query_datetime(request: web.Request, name: str) -> datetime | None:
    """An optional ISO 8601 time (or a date, taken as midnight UTC); no zone means UTC."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            raise _bad_param(name, msg("Thời gian không hợp lệ (ISO 8601)")) from None
        value = datetime(d.year, d.month, d.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def query_enum(request: web.Request, name: str, choices: Iterable[str]) -> str | None:
    """An optional value that must be one of the choices."""
    raw = request.query.get(name)
    if not raw:
        return None
    allowed = [str(c) for c in choices]
    if raw not in allowed:
        raise _bad_param(name, one_of(allowed))
    return raw


def paging(request: web.Request) -> tuple[int, int]:
    """limit (1–MAX_PAGE, default DEFAULT_PAGE) and offset (≥ 0) from the query string."""
    limit = query_int(request, "limit")
    offset = query_int(request, "offset")
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise _bad_param("limit", msg("Phải từ 1 đến %(max)d", max=MAX_PAGE))
    if offset is not None and offset < 0:
        raise _bad_param("offset", msg("Không được âm"))
    return clamp_page(limit if limit is not None else DEFAULT_PAGE, offset)


async def body(request: web.Request, model: type[M]) -> M:
    """The JSON body validated into a model."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType()
    try:
        raw = await request.read()
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise Invalid(msg("Dữ liệu JSON không hợp lệ")) from None
    return parse(model, data)


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    raise TypeError


def json(data: Any, *, status: int = 200) -> web.Response:
    """A JSON response encoded with orjson."""
    return web.Response(
        body=orjson.dumps(data, default=_default),
        status=status,
        content_type="application/json",
    )


def one(model: type[M], obj: Any, *, status: int = 200, **extra: Any) -> web.Response:
    """One object through its public model."""
    data = model.model_validate(obj, from_attributes=True).model_dump(mode="json")
    data.update(extra)
    return json(data, status=status)


def page(
    model: type[M], result: Page[Any], convert: Callable[[Any], Any] | None = None
) -> web.Response:
    """A page of objects through their public model."""
    items = [
        model.model_validate(convert(o) if convert else o, from_attributes=True).model_dump(
            mode="json"
        )
        for o in result.items
    ]
    return json(
        {
            "items": items,
            "total": result.total,
            "total_exact": result.total_exact,
            "limit": result.limit,
            "offset": result.offset,
            "next": result.next_after,
        }
    )
