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

from .errors import Invalid
from .messages import msg

SessionMaker = async_sessionmaker[AsyncSession]


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, (tuple, list)):
        return any(_holds_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_nul(v) for v in value.values())
    return False


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool
) -> None:
    # PostgreSQL cannot store U+0000 in text and SQLite's FTS reads it as the end of the query:
    # text holding one is bad input wherever it came from (a form, a multipart field, a frame).
    if _holds_nul(parameters):
        raise Invalid(msg("Văn bản không được chứa ký tự NUL"))


def _guard(engine: AsyncEngine) -> AsyncEngine:
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_nul)
    return engine


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

        return _guard(engine)
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
        return _guard(create_async_engine(parsed, **kwargs))
    return _guard(create_async_engine(url, **kwargs))


def session_maker(engine: AsyncEngine, *, events: Any = None) -> SessionMaker:
    """A session factory whose objects stay readable after commit.

    ``events``: a ``records.events.EventHub`` whose listeners hear what its sessions commit."""
    info = {"telemed.events": events} if events is not None else {}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


async def ping(engine: AsyncEngine, *, timeout: float = 2.0) -> None:
    """Raise unless the database answers a trivial query within ``timeout`` seconds."""
    async with asyncio.timeout(timeout), engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
