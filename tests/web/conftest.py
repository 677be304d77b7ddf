"""Fixtures for the web security tests: apps built with the security layer and account API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine
from webtools import SECRET, MakeWeb, Web, build_app

from records.db import session_maker
from web.config import WebConfig


@pytest.fixture
async def make_web(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[MakeWeb]:
    """Start test apps with WebConfig overrides."""
    static_dir = tmp_path / "static"
    static_dir.mkdir()
    (static_dir / "app.js").write_text("console.log(1)")
    clients: list[TestClient[web.Request, web.Application]] = []

    async def make(**overrides: Any) -> Web:
        config = replace(WebConfig(secret_key=SECRET), **overrides)
        sessions = session_maker(engine)
        client = TestClient(TestServer(build_app(config, sessions, static_dir)))
        await client.start_server()
        clients.append(client)
        return Web(client=client, sessions=sessions)

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def site(make_web: MakeWeb) -> Web:
    """The default test app."""
    return await make_web()
