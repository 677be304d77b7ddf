"""A small app with the security layer, the account API and the audit log API, for tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import factories
from aiohttp import web
from aiohttp.test_utils import TestClient

from records import passwords
from records.db import SessionMaker
from records.models import Role, User
from web.api import audit as audit_api
from web.api import auth as auth_api
from web.config import WebConfig
from web.errors import error_middleware
from web.keys import config_key, csp_nonce_key, sessions_key
from web.security import require_actor, setup_security

PASSWORD = "Hội chẩn an toàn 2024"
SECRET = "test-secret-key-0123456789abcdef"


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One argon2 hash for every test user (hashing is slow on purpose)."""
    return passwords.hash_password(PASSWORD)


async def write(request: web.Request) -> web.Response:
    """A state-changing endpoint that needs a signed-in user."""
    actor = require_actor(request)
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        part = await reader.next()
        size = len(await part.read()) if part is not None else 0  # type: ignore[union-attr]
        return web.json_response({"user": actor.username, "size": size})
    return web.json_response({"user": actor.username, "addr": actor.client_addr})


async def page(request: web.Request) -> web.Response:
    """An HTML page that uses the CSP nonce."""
    nonce = request[csp_nonce_key]
    return web.Response(
        text=f'<!doctype html><script nonce="{nonce}">1</script>', content_type="text/html"
    )


async def boom(request: web.Request) -> web.Response:
    """An unexpected failure."""
    raise RuntimeError("boom")


async def socket(request: web.Request) -> web.WebSocketResponse:
    """A WebSocket that says hello and closes."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str("hello")
    await ws.close()
    return ws


def build_app(config: WebConfig, sessions: SessionMaker, static_dir: Path) -> web.Application:
    """The security layer and the account routes, as the web layer wires them."""
    app = web.Application(middlewares=[error_middleware])
    app[config_key] = config
    app[sessions_key] = sessions
    setup_security(app)
    auth_api.add_routes(app)
    audit_api.routes.add_to(app)
    app.router.add_post("/api/v1/test/write", write, name="test-write")
    app.router.add_get("/page", page, name="test-page")
    app.router.add_get("/boom", boom, name="test-boom")
    app.router.add_get("/ws", socket, name="test-ws")
    app.router.add_static("/static/", static_dir, name="static")
    return app


@dataclass
class Web:
    """A running test app with its database."""

    client: TestClient[web.Request, web.Application]
    sessions: SessionMaker

    @property
    def origin(self) -> str:
        """This server's own origin, as a browser would send it."""
        return str(self.client.make_url("/")).rstrip("/")

    async def user(self, role: Role = Role.doctor, **kw: Any) -> User:
        """A user with the test password."""
        async with self.sessions() as s:
            fac = await factories.facility(s)
            user = await factories.user(s, facility=fac, role=role, **kw)
            user.password_hash = password_hash()
            s.add(user)
            await s.commit()
            return user


MakeWeb = Callable[..., Awaitable[Web]]
