"""Migrations from empty to head match the models, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from records.db import create_engine, session_maker
from records.migrate import (
    alembic_config,
    current_revisions,
    head_revisions,
    is_at_head,
    upgrade,
)
from records.migrations import include_name
from records.models import Case, Patient, metadata
from tests import factories
from tests.conftest import drop_engine, make_engine, schema_url

# The revision before the patient's identity columns and the case's department and bed.
BEFORE_IDENTITY = "d4e5f6a7b801"


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
    with warnings.catch_warnings():
        # SQLite cannot reflect the expression index: it is unmodelled, so nothing is lost.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
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


def _downgrade_sync(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


async def test_identity_columns_start_unknown_on_existing_rows(
    db_kind: str, tmp_path: Path
) -> None:
    url, engine, schema = await _url_for(db_kind, tmp_path)
    migrated = create_engine(url)
    try:
        await upgrade(url)
        async with session_maker(migrated)() as session:
            fac = await factories.facility(session)
            doctor = await factories.user(session, facility=fac)
            patient = await factories.patient(session, facility=fac)
            patient.ethnicity, patient.citizen_id = "02", "070170012345"
            session.add(patient)
            await session.commit()
            case = await factories.case(session, patient=patient, author=doctor)
            patient_id, case_id = patient.id, case.id
        # Back to the revision before the identity columns, with the rows in place, and up.
        async with migrated.begin() as conn:
            await conn.run_sync(_downgrade_sync, BEFORE_IDENTITY)
        async with migrated.connect() as conn:
            names = {c["name"] for c in await conn.run_sync(_columns, "patient")}
            count = (await conn.execute(text("SELECT count(*) FROM patient"))).scalar_one()
        assert "ethnicity" not in names and "citizen_id" not in names
        assert count >= 1
        await upgrade(url)
        async with session_maker(migrated)() as session:
            again = await session.get(Patient, patient_id)
            case_again = await session.get(Case, case_id)
            assert again is not None and case_again is not None
            # Never guessed: what the old schema did not hold comes back unknown.
            assert again.ethnicity is None and again.citizen_id is None
            assert again.occupation is None
            assert case_again.department is None and case_again.bed is None
    finally:
        await migrated.dispose()
        await drop_engine(engine, schema)


def _columns(connection: Connection, table: str) -> list[Any]:
    return list(inspect(connection).get_columns(table))
