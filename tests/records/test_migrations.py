"""Migrations from empty to head match the models, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from records.db import create_engine
from records.migrate import current_revisions, head_revisions, is_at_head, upgrade
from records.migrations import include_name
from records.models import metadata
from tests.conftest import drop_engine, make_engine, schema_url


async def _url_for(db_kind: str, tmp_path: Path) -> tuple[str, Any, str | None]:
    engine, schema = await make_engine(db_kind, tmp_path)
    url = str(engine.url.render_as_string(hide_password=False))
    if schema:
        url = schema_url(schema)
    return url, engine, schema


def _diff(connection: Connection) -> list[Any]:
    # The same comparison as autogenerate: the search indexes the models cannot express are
    # left out by name (records/migrations/__init__.py), everything else must match.
    ctx = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_name}
    )
    return list(compare_metadata(ctx, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_from_empty_matches_models(db_kind: str, tmp_path: Path) -> None:
    url, engine, schema = await _url_for(db_kind, tmp_path)
    try:
        assert await current_revisions(url) == ()
        assert not await is_at_head(url)
        async with engine.connect() as conn:
            # The comparison sees a missing schema, so an empty result below means something.
            assert await conn.run_sync(_diff)

        await upgrade(url)

        assert await is_at_head(url)
        assert set(await current_revisions(url)) == set(head_revisions())
        check = create_engine(url)
        try:
            async with check.connect() as conn:
                tables = await conn.run_sync(_tables)
                diff = await conn.run_sync(_diff)
        finally:
            await check.dispose()
        assert set(metadata.tables) <= tables
        assert diff == []
    finally:
        await drop_engine(engine, schema)


async def test_upgrade_twice_is_a_noop(db_kind: str, tmp_path: Path) -> None:
    url, engine, schema = await _url_for(db_kind, tmp_path)
    try:
        await upgrade(url)
        marker = create_engine(url)
        try:
            # A row written between the two runs survives: nothing is dropped or rebuilt.
            async with marker.begin() as conn:
                await conn.execute(
                    text("INSERT INTO login_throttle (key, failures) VALUES ('probe', 3)")
                )
            await upgrade(url)
            async with marker.connect() as conn:
                failures = (
                    await conn.execute(
                        text("SELECT failures FROM login_throttle WHERE key = 'probe'")
                    )
                ).scalar_one()
        finally:
            await marker.dispose()
        assert failures == 3
        assert await is_at_head(url)
    finally:
        await drop_engine(engine, schema)


async def test_sqlite_upgrade_creates_the_parent_directory(tmp_path: Path) -> None:
    target = tmp_path / "new" / "nested" / "telemed.db"
    url = f"sqlite+aiosqlite:///{target}"
    assert not await is_at_head(url)
    assert not target.exists()  # asking does not create the file
    await upgrade(url)
    assert target.exists()
    assert await is_at_head(url)
