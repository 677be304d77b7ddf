"""One client socket: an ordered, bounded send queue, a rate limiter and an abuse counter."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from signaling.config import SignalingConfig
from signaling.errors import CloseCode
from signaling.messages import dumps


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


class Connection:
    """The domain's `Outlet` for a WebSocket: frames go out in order, close comes last."""

    def __init__(self, ws: web.WebSocketResponse, config: SignalingConfig) -> None:
        self.ws = ws
        self.limit = config.send_queue
        self.closing = False
        self._queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write())

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame; a client that cannot keep up is closed."""
        if self.closing:
            return
        if self._queue.qsize() >= self.limit:
            self.close(CloseCode.SLOW_CONSUMER, "too slow to read")
            return
        self._queue.put_nowait(dumps(frame))

    def close(self, code: int, reason: str) -> None:
        """Close after the queued frames; idempotent."""
        if self.closing:
            return
        self.closing = True
        self._queue.put_nowait(_Close(code, reason))

    async def _write(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, _Close):
                    await self.ws.close(code=item.code, message=item.reason.encode()[:120])
                    return
                await self.ws.send_str(item)
            except (TimeoutError, ConnectionError, RuntimeError):
                # The socket is gone; the reader notices and cleans up.
                self.closing = True
                return

    async def aclose(self) -> None:
        """Stop writing; wait briefly for queued frames."""
        self.close(CloseCode.NORMAL, "bye")
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), 2.0)
        except (TimeoutError, asyncio.CancelledError):
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


class RateLimiter:
    """A token bucket: `rate` frames a second, bursts up to `burst`."""

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
    """Counts bad frames in a sliding window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.hits: deque[float] = deque()

    def strike(self) -> bool:
        """Record one bad frame; True when the socket has gone over the limit."""
        now = time.monotonic()
        self.hits.append(now)
        while self.hits and self.hits[0] < now - self.window:
            self.hits.popleft()
        return len(self.hits) > self.limit
