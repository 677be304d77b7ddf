"""Alembic migrations, driven from code: upgrade to head, check the head, write a new revision.

The scripts live in ``records/migrations`` inside the package, so an installed server needs no
``alembic.ini``. Use ``python -m records.migrate revision -m "what changed"`` after changing a
model: it builds a scratch SQLite database at the current head and autogenerates the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from .db import create_engine, is_sqlite

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number: serialises concurrent upgrades of one PostgreSQL database.
_PG_LOCK_KEY = 0x7E1E_3ED0_0000_0001 & 0x7FFF_FFFF_FFFF_FFFF


def alembic_config() -> Config:
    """An Alembic configuration pointing at the package's migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_path_separator", "os")
    return cfg


def head_revisions() -> tuple[str, ...]:
    """The head revision(s) of the migration scripts."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _upgrade_sync(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


async def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (default: head); a no-op when already there."""
    if is_sqlite(url):
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_sync, revision)
    finally:
        await engine.dispose()


async def current_revisions(url: str) -> tuple[str, ...]:
    """The revision(s) the database is at; empty for a database never migrated."""
    if is_sqlite(url):
        path = _sqlite_path(url)
        # Do not create an empty file just by asking.
        if path is not None and not path.exists():
            return ()
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current_heads)
    finally:
        await engine.dispose()


async def is_at_head(url: str) -> bool:
    """Whether the database schema is at the newest migration."""
    return set(await current_revisions(url)) == set(head_revisions())


def _autogenerate_sync(connection: Connection, message: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
    command.revision(cfg, message=message, autogenerate=True)


async def make_revision(message: str, url: str | None = None) -> None:
    """Autogenerate a revision from the models against a database at head (scratch SQLite)."""
    with tempfile.TemporaryDirectory() as tmp:
        target = url or f"sqlite+aiosqlite:///{Path(tmp) / 'scratch.db'}"
        engine = create_engine(target)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_autogenerate_sync, message)
        finally:
            await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m records.migrate``: upgrade a database, show its state, or write a revision."""
    parser = argparse.ArgumentParser(prog="python -m records.migrate")
    sub = parser.add_subparsers(dest="command", required=True)
    rev = sub.add_parser("revision", help="autogenerate a revision from the models")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument(
        "--database-url", help="compare against this database instead of a scratch one"
    )
    up = sub.add_parser("upgrade", help="apply the migrations")
    up.add_argument("database_url")
    cur = sub.add_parser("current", help="print the revision a database is at")
    cur.add_argument("database_url")
    sub.add_parser("heads", help="print the head revision(s) of the scripts")
    args: Any = parser.parse_args(argv)
    if args.command == "revision":
        asyncio.run(make_revision(args.message, args.database_url))
    elif args.command == "upgrade":
        asyncio.run(upgrade(args.database_url))
    elif args.command == "current":
        print(" ".join(asyncio.run(current_revisions(args.database_url))) or "(empty)")
    else:
        print(" ".join(head_revisions()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
