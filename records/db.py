"""Database engine and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionMaker = async_sessionmaker[AsyncSession]


def is_sqlite(url: str) -> bool:
    """Whether a database URL points at SQLite."""
    return url.startswith("sqlite")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL, synchronous=FULL and foreign keys on."""
    if is_sqlite(url):
        # SQLite takes one writer at a time and aiosqlite runs a thread per connection: a small
        # pool keeps the threads (and their contention for the interpreter lock) few.
        kwargs.setdefault("pool_size", 3)
        kwargs.setdefault("max_overflow", 2)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # A `search_path` query parameter selects a schema (asyncpg takes it as a server setting).
    parsed = make_url(url)
    schema = parsed.query.get("search_path")
    if schema:
        parsed = parsed.difference_update_query(["search_path"])
        connect_args = dict(kwargs.pop("connect_args", {}))
        settings = dict(connect_args.get("server_settings", {}))
        settings["search_path"] = str(schema)
        connect_args["server_settings"] = settings
        kwargs["connect_args"] = connect_args
        return create_async_engine(parsed, **kwargs)
    return create_async_engine(url, **kwargs)


def session_maker(engine: AsyncEngine, *, events: Any = None) -> SessionMaker:
    """A session factory whose objects stay readable after commit.

    ``events``: a ``records.events.EventHub`` whose listeners hear what its sessions commit."""
    info = {"telemed.events": events} if events is not None else {}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


async def ping(engine: AsyncEngine, *, timeout: float = 2.0) -> None:
    """Raise unless the database answers a trivial query within ``timeout`` seconds."""
    async with asyncio.timeout(timeout), engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
