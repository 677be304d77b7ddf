"""The hash-chained audit trail: append, verify, tamper detection, concurrency, listing."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import factories
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel

from records import audit, audit_export, audit_log
from records.actor import Actor
from records.db import session_maker
from records.errors import Forbidden
from records.models import AuditEvent, Role

SYSTEM = Actor.system()


async def test_empty_chain_verifies(session: AsyncSession) -> None:
    result = await audit.verify(session)
    assert result.ok and result.count == 0


async def test_chain_links_and_verifies(session: AsyncSession) -> None:
    first = await audit.record_now(session, actor=SYSTEM, action="login")
    second = await audit.record(
        session,
        actor=SYSTEM,
        action="create",
        object_type="case",
        object_id=uuid.uuid4(),
        detail={"title": "Viêm phổi", "n": 3},
    )
    await session.commit()
    assert first.seq == 1 and first.prev_hash == audit.GENESIS
    assert second.seq == 2 and second.prev_hash == first.hash
    assert len(second.hash) == 64
    result = await audit.verify(session)
    assert result.ok and result.count == 2


async def test_uncommitted_event_rolls_back_with_the_change(session: AsyncSession) -> None:
    await audit.record_now(session, actor=SYSTEM, action="login")
    await audit.record(session, actor=SYSTEM, action="create")
    await session.rollback()
    await audit.record_now(session, actor=SYSTEM, action="logout")
    result = await audit.verify(session)
    assert result.ok and result.count == 2


@pytest.mark.parametrize(
    ("column", "value"),
    [("action", "view"), ("outcome", "denied"), ("actor_name", "mallory"), ("hash", "0" * 64)],
)
async def test_tampering_is_detected_at_its_seq(
    session: AsyncSession, column: str, value: str
) -> None:
    for action in ("login", "view", "create", "logout"):
        await audit.record_now(session, actor=SYSTEM, action=action)
    await session.execute(
        sa.update(AuditEvent).where(sa.column("seq") == 3).values({column: value})
    )
    await session.commit()
    result = await audit.verify(session)
    assert not result.ok
    assert result.broken_seq == 3
    assert result.count == 2


async def test_deleted_event_is_detected(session: AsyncSession) -> None:
    for action in ("login", "view", "logout"):
        await audit.record_now(session, actor=SYSTEM, action=action)
    await session.execute(sa.delete(AuditEvent).where(sa.column("seq") == 2))
    await session.commit()
    result = await audit.verify(session)
    assert not result.ok and result.broken_seq == 2


async def test_edited_detail_is_detected(session: AsyncSession) -> None:
    await audit.record_now(session, actor=SYSTEM, action="update", detail={"a": 1})
    await session.execute(sa.update(AuditEvent).values(detail={"a": 2}))
    await session.commit()
    result = await audit.verify(session)
    assert not result.ok and result.broken_seq == 1


async def test_unknown_action_is_refused(session: AsyncSession) -> None:
    with pytest.raises(ValueError):
        await audit.record(session, actor=SYSTEM, action="frobnicate")


async def test_concurrent_writers_do_not_fork_the_chain(engine: AsyncEngine) -> None:
    maker = session_maker(engine)

    async def writer(i: int) -> None:
        async with maker() as s:
            for _ in range(5):
                await audit.record_now(s, actor=Actor.system(f"w{i}"), action="view")

    await asyncio.gather(*(writer(i) for i in range(6)))
    async with maker() as s:
        result = await audit.verify(s)
    assert result.ok and result.count == 30


async def test_list_events_admin_only_and_filters(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    admin = Actor.of(await factories.user(session, facility=fac, role=Role.admin))
    doctor_user = await factories.user(session, facility=fac, role=Role.doctor)
    doctor = Actor.of(doctor_user, client_addr="10.0.0.7")
    pid = uuid.uuid4()
    await audit.record_now(session, actor=doctor, action="login")
    await audit.record_now(
        session, actor=doctor, action="view", object_type="patient", object_id=pid, patient_id=pid
    )
    await audit.record_now(session, actor=admin, action="admin")

    page = await audit_log.list_events(session=session, actor=admin, limit=10, offset=0)
    assert page.total == 3 and [e.seq for e in page.items] == [3, 2, 1]
    mine = await audit_log.list_events(
        session=session, actor=admin, user_id=doctor_user.id, limit=10, offset=0
    )
    assert mine.total == 2
    about = await audit_log.list_events(
        session=session, actor=admin, patient_id=pid, limit=10, offset=0
    )
    assert [e.action for e in about.items] == ["view"]
    assert about.items[0].client_addr == "10.0.0.7"
    views = await audit_log.list_events(
        session=session, actor=admin, action="login", limit=10, offset=0
    )
    assert views.total == 1

    with pytest.raises(Forbidden):
        await audit_log.list_events(session=session, actor=doctor, limit=10, offset=0)
    denied = await audit_log.list_events(
        session=session, actor=admin, action="denied", limit=10, offset=0
    )
    assert denied.total == 1
    assert (await audit.verify(session)).ok


async def test_csv_rows(session: AsyncSession) -> None:
    await audit.record_now(session, actor=SYSTEM, action="export", detail={"what": "audit"})
    page = await audit_log.list_events(session=session, actor=SYSTEM, limit=10, offset=0)
    rows = list(audit_export.to_csv_rows(page.items))
    assert rows[0][0] == "seq" and rows[1][0] == "1" and rows[1][4] == "export"
    assert all(isinstance(c, str) for c in rows[1])
    assert "seq,at" in audit_export.to_csv(page.items)


async def test_csv_times_are_local_for_spreadsheets(session: AsyncSession) -> None:
    event = await audit.record_now(session, actor=SYSTEM, action="login")
    event.at = datetime(2026, 11, 29, 17, 30, 5, 123456, tzinfo=UTC)
    # Half past five in the afternoon in UTC is half past midnight the next day in Vietnam.
    [_, row] = list(audit_export.to_csv_rows([event]))
    assert row[1] == "2026-11-30 00:30:05"


async def test_describe_for_the_command_line(session: AsyncSession) -> None:
    await audit.record_now(session, actor=SYSTEM, action="login")
    good = await audit.verify(session)
    assert good.head_hash != audit.GENESIS
    assert "1 sự kiện" in str(good.describe()) and good.head_hash in str(good.describe())
    await session.execute(sa.update(AuditEvent).values(outcome="failed"))
    await session.commit()
    bad = await audit.verify(session)
    assert "số 1" in str(bad.describe()) and "mã băm" in str(bad.describe())


def _database_url(engine: AsyncEngine, schema: str | None) -> str:
    url = engine.url.render_as_string(hide_password=False)
    return f"{url}?search_path={schema}" if schema else url


async def _telemed(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "telemed",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode()


async def test_cli_verify_finds_the_edited_row(
    engine: AsyncEngine, session: AsyncSession, tmp_path: Path
) -> None:
    schema = None
    if engine.dialect.name == "postgresql":
        schema = (await session.execute(sa.text("SELECT current_schema()"))).scalar_one()
    args = ("audit", "verify", "--data-dir", str(tmp_path), "--database-url")
    url = _database_url(engine, schema)
    # The command line wants a migrated database: rebuild this one through the migrations.
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all)
    code, out = await _telemed("db", "upgrade", "--data-dir", str(tmp_path), "--database-url", url)
    assert code == 0, out
    # Written as the server writes them: keyed with the data directory's audit key.
    key = (tmp_path / "audit_key").read_text().strip().encode()
    async with session_maker(engine, audit_key=key)() as keyed:
        for action in ("login", "view", "download", "update", "logout"):
            await audit.record_now(keyed, actor=SYSTEM, action=action, object_type="case")
    code, out = await _telemed(*args, url)
    assert code == 0 and "5 sự kiện" in out, out
    # Someone with database access rewrites history: event 4 becomes a harmless view.
    await session.execute(sa.text("UPDATE audit_event SET action = 'view' WHERE seq = 4"))
    await session.commit()
    code, out = await _telemed(*args, url)
    assert code == 1 and "sự kiện số 4" in out and "3 sự kiện trước đó" in out, out


async def test_csv_export_is_admin_only_audited_and_safe_for_spreadsheets(
    session: AsyncSession,
) -> None:
    fac = await factories.facility(session)
    admin = Actor.of(await factories.user(session, facility=fac, role=Role.admin))
    doctor = Actor.of(await factories.user(session, facility=fac, role=Role.doctor))
    formula = Actor(user_id=None, username='=HYPERLINK("http://x")', role=None, facility_id=None)
    await audit.record_now(session, actor=formula, action="login-failed")
    await audit.record_now(session, actor=doctor, action="view", object_type="case")
    with pytest.raises(Forbidden):
        await audit_export.export_csv(session=session, actor=doctor)
    text = await audit_export.export_csv(session=session, actor=admin, action="login-failed")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == audit_export.CSV_HEADER and len(rows) == 2
    assert rows[1][3].startswith("'=")
    last = await audit_log.list_events(session=session, actor=admin, limit=2, offset=0)
    assert [e.action for e in last.items] == ["export", "denied"]
    assert last.items[0].detail == {"action": "login-failed", "rows": 1}
    assert (await audit.verify(session)).ok
