"""One client socket: an ordered, bounded send buffer, a rate limiter and an abuse counter."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from signaling.config import SignalingConfig
from signaling.errors import CloseCode


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


class Connection:
    """The domain's `Outlet` for a WebSocket: frames go out in order, close comes last.

    An idle socket holds no task and no buffer: a writer task starts with the first queued
    frame and ends when the buffer is empty, so thousands of quiet sockets cost little memory.
    """

    __slots__ = ("ws", "limit", "closing", "_buffer", "_writer")

    def __init__(self, ws: web.WebSocketResponse, config: SignalingConfig) -> None:
        self.ws = ws
        self.limit = config.send_queue
        self.closing = False
        self._buffer: deque[bytes | _Close] | None = None
        self._writer: asyncio.Task[None] | None = None

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame; a client that cannot keep up is closed."""
        if self.closing:
            return
        buffer = self._buffer
        if buffer is not None and len(buffer) >= self.limit:
            self.close(CloseCode.SLOW_CONSUMER, "too slow to read")
            return
        # Bytes straight from orjson: no decode here and no re-encode in the writer.
        self._push(orjson.dumps(frame))

    def close(self, code: int, reason: str) -> None:
        """Close after the queued frames; idempotent."""
        if self.closing:
            return
        self.closing = True
        self._push(_Close(code, reason))

    def _push(self, item: bytes | _Close) -> None:
        if self._buffer is None:
            self._buffer = deque()
        self._buffer.append(item)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        buffer = self._buffer
        try:
            while buffer:
                item = buffer.popleft()
                if isinstance(item, _Close):
                    buffer.clear()
                    await self.ws.close(code=item.code, message=item.reason.encode()[:120])
                    return
                await self.ws.send_frame(item, WSMsgType.TEXT)
        except (TimeoutError, ConnectionError, RuntimeError):
            # The socket is gone; the reader notices and cleans up.
            self.closing = True
        finally:
            # Nothing awaits between the empty check and here, so no frame is dropped.
            self._writer = None
            self._buffer = None

    async def aclose(self) -> None:
        """Stop writing; wait briefly for queued frames."""
        self.close(CloseCode.NORMAL, "bye")
        writer = self._writer
        if writer is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(writer), 2.0)
        except (TimeoutError, asyncio.CancelledError):
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


class RateLimiter:
    """A token bucket: `rate` frames a second, bursts up to `burst`."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        """Take a token if there is one."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class AbuseCounter:
    """Counts bad frames in a sliding window (no window is kept until the first one)."""

    __slots__ = ("limit", "window", "hits")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.hits: deque[float] | None = None

    def strike(self) -> bool:
        """Record one bad frame; True when the socket has gone over the limit."""
        now = time.monotonic()
        if self.hits is None:
            self.hits = deque()
        hits = self.hits
        hits.append(now)
        while hits and hits[0] < now - self.window:
            hits.popleft()
        return len(hits) > self.limit
