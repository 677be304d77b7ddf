"""Liveness and readiness for the reverse proxy and the supervisor.

``/healthz`` answers as long as the process serves requests (it touches nothing else);
``/readyz`` also asks the database and, when configured, Redis, each within a short timeout,
and answers 503 naming what is missing, so a proxy sends people to a process that can serve them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from records.db import ping

PROBE_TIMEOUT = 2.0
_redis_key = web.AppKey("readiness_redis", aioredis.Redis)


async def healthz(request: web.Request) -> web.Response:
    """The process is alive."""
    return web.json_response({"status": "alive"})


def _readyz(engine: AsyncEngine) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def readyz(request: web.Request) -> web.Response:
        """The database (and Redis, if used) answer: 200, else 503 with what is missing."""
        checks: dict[str, str] = {}
        try:
            await ping(engine, timeout=PROBE_TIMEOUT)
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            checks["database"] = f"unreachable: {type(exc).__name__}"
        client = request.app.get(_redis_key)
        if client is not None:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT):
                    await client.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"unreachable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return web.json_response(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    return readyz


def setup_health(app: web.Application, *, engine: AsyncEngine, redis_url: str | None) -> None:
    """Add ``/healthz`` and ``/readyz`` to the application."""
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/readyz", _readyz(engine), name="readyz")
    if redis_url:

        async def redis_probe(app: web.Application) -> AsyncIterator[None]:
            client = aioredis.from_url(
                redis_url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT
            )
            app[_redis_key] = client
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()

        app.cleanup_ctx.append(redis_probe)
