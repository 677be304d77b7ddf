"""A clear 503 while the database cannot be reached, instead of a 500 or a hung request.

Each request runs in its own transaction, so a request cut off by a lost connection has
written nothing; the pool replaces broken connections (pre-ping), so the server serves again as
soon as the database is back, without a restart.
"""

from __future__ import annotations

import errno
import logging

from aiohttp import web
from sqlalchemy import exc as sa_exc

from records.messages import N_

from .errors import Handler, respond_error
from .i18n import gettext

log = logging.getLogger(__name__)

UNAVAILABLE = N_(
    "Hệ thống tạm thời không kết nối được cơ sở dữ liệu. Dữ liệu của bạn chưa được lưu; "
    "vui lòng thử lại sau ít phút."
)
RETRY_AFTER_SECONDS = 5
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EPIPE,
    }
)


def _one_is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    # asyncio reports a refused connection to every address of a name as one plain OSError.
    return isinstance(exc, OSError) and (
        exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions")
    )


def database_unreachable(exc: BaseException) -> bool:
    """Whether an exception (or one it was raised from) says the database is out of reach."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _one_is_unreachable(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@web.middleware
async def unavailable_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer 503 (a page or JSON, in the request's language) when the database is away."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        log.warning("database unreachable on %s %s: %r", request.method, request.path, exc)
        return await respond_error(
            request,
            503,
            "unavailable",
            gettext(request, UNAVAILABLE),
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
