"""Shared fixtures: real SQLite and PostgreSQL engines, real Redis, test data factories."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ci import PG_URL, REDIS_URL, host_address, require, require_service, schema_url
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel

import records.models  # noqa: F401  (registers every table)
from records.db import create_engine, session_maker
from records.render import Renderer, RenderLimits


async def make_engine(kind: str, tmp_path: Path) -> tuple[AsyncEngine, str | None]:
    """An empty engine: a SQLite file, or a private schema in the PostgreSQL test database."""
    if kind == "sqlite":
        return create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"), None
    require_service(PG_URL, 5432, "PostgreSQL")
    # A schema per test keeps concurrent test runs on one database apart.
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    return create_engine(schema_url(schema)), schema


async def drop_engine(engine: AsyncEngine, schema: str | None) -> None:
    """Dispose of an engine and drop its PostgreSQL schema."""
    await engine.dispose()
    if schema:
        admin = create_engine(PG_URL)
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    """Which database a test runs on; every records test runs on both."""
    return str(request.param)


@pytest.fixture
async def engine(db_kind: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine with every table created."""
    eng, schema = await make_engine(db_kind, tmp_path)
    try:
        async with eng.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
        yield eng
    finally:
        await drop_engine(eng, schema)


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on the test database."""
    async with session_maker(engine)() as s:
        yield s


@pytest.fixture
def redis_url() -> str:
    """The Redis URL for tests (fails in CI when Redis is down, skips elsewhere)."""
    require_service(REDIS_URL, 6379, "Redis")
    return REDIS_URL


@pytest.fixture
def ice_host() -> str:
    """This machine's non-loopback address, which aiortc peers need to meet (aioice skips
    127.0.0.1): fails in CI when there is none, skips elsewhere."""
    address = host_address()
    require(address is not None, "no non-loopback address for ICE")
    assert address is not None
    return address


@pytest.fixture
async def renderer() -> AsyncIterator[Renderer]:
    """A real pool of one render worker process, closed after the test."""
    async with Renderer(RenderLimits(workers=1)) as pool:
        yield pool
