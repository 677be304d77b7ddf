"""Fixtures for the JSON API tests: the application from the factory, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from apitools import MAX_UPLOAD, Api, World, build_world
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from records.db import session_maker
from telemed.app import create_app
from telemed.settings import Settings


async def database_url(engine: AsyncEngine, db_kind: str, tmp_path: Path) -> str:
    """The URL of the test database behind the `engine` fixture, for the app's own engine."""
    if db_kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    async with engine.connect() as conn:
        schema = str((await conn.execute(text("SHOW search_path"))).scalar_one()).strip('"')
    url = engine.url.update_query_dict({"search_path": schema})
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def settings(engine: AsyncEngine, db_kind: str, tmp_path: Path) -> Settings:
    """Settings of a test server over the test database, with its own data directory."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=await database_url(engine, db_kind, tmp_path),
        secret_key="api-test-secret-0123456789abcdef",
        max_upload_bytes=MAX_UPLOAD,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A running server built by `telemed.app.create_app`."""
    test_client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(settings))
    )
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await test_client.close()


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    """Facilities on one referral line, one user of each role, and their bearer tokens."""
    async with session_maker(engine)() as session:
        return await build_world(session)


@pytest.fixture
def api(client: TestClient[web.Request, web.Application], world: World) -> Api:
    """JSON calls to the running server as any user of the world."""
    return Api(client, world)
