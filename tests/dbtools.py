"""A SQLite database file with every table, for tests that start whole applications on it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import records.models  # noqa: F401  (registers every table)
from records.db import create_engine


async def sqlite_database(directory: Path) -> tuple[str, AsyncEngine]:
    """The URL of a new SQLite file in ``directory`` with every table, and an engine on it."""
    url = f"sqlite+aiosqlite:///{directory / 'telemed.db'}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    return url, engine
