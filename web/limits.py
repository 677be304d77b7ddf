"""Bounds on request bodies: refused by their declared length, and cut off when they crawl."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from records.errors import RecordsError, TooLarge
from records.messages import N_, msg

from .keys import config_key

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# How often the watchdog looks at a body's progress.
_TICK = 0.25
SLOW_BODY = N_("Dữ liệu gửi lên quá chậm, kết nối đã bị đóng")


class SlowBody(RecordsError):
    """A request body stalled or crawled below the minimum rate."""

    code = "request-timeout"


def body_limit(request: web.Request) -> int:
    """The most bytes a request may declare: files for an upload, else what is read whole."""
    config = request.app[config_key]
    if request.content_type.startswith("multipart/"):
        # Each file is checked against max_upload_bytes as it streams; the fields around them
        # are small.
        return config.max_upload_bytes * config.max_files_per_request + 1024 * 1024
    return request._client_max_size


def _refuse_declared(request: web.Request) -> None:
    declared = request.content_length
    if declared is not None and declared > body_limit(request):
        raise TooLarge(msg("Dữ liệu gửi lên quá lớn"))


def _stalled(request: web.Request, idle: float, min_rate: float) -> Callable[[], bool]:
    """A test of whether the client is too slow (not the handler slow to read)."""
    content = request.content
    started = last_move = time.monotonic()
    last_total = content.total_bytes

    def check() -> bool:
        nonlocal last_move, last_total
        now = time.monotonic()
        # Bytes waiting in the buffer mean the handler has not read yet: not the client's fault.
        if content.total_bytes != last_total or content._size > 0:  # noqa: SLF001
            last_total, last_move = content.total_bytes, now
        if now - last_move >= idle:
            return True
        elapsed = now - started
        return elapsed >= idle and content.total_bytes < min_rate * (elapsed - idle)

    return check


async def _watch(request: web.Request, idle: float, min_rate: float) -> None:
    """Return when the body has stalled; run until cancelled while it flows."""
    check = _stalled(request, idle, min_rate)
    while not request.content.is_eof():
        await asyncio.sleep(min(_TICK, idle / 4))
        if check():
            return
    await asyncio.Event().wait()


@web.middleware
async def body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """413 from the declared length before a byte is read; 408 and a closed connection for a
    body that stops or crawls (a slow-body attack would otherwise hold a handler forever)."""
    if not request.body_exists:
        return await handler(request)
    _refuse_declared(request)
    config = request.app[config_key]
    work = asyncio.ensure_future(handler(request))
    watchdog = asyncio.ensure_future(
        _watch(request, config.body_idle_seconds, config.body_min_bytes_per_second)
    )
    try:
        await asyncio.wait({work, watchdog}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        raise
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
    if work.done():
        return work.result()
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await work
    raise SlowBody(msg(SLOW_BODY))
