"""The audit chain keyed with a secret outside the database: a rebuilt chain is found."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from records import audit
from records.actor import Actor
from records.db import create_engine, session_maker
from records.models import AuditEvent
from telemed.settings import Settings
from tests.telemed.test_cli import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A command line bound to an empty data directory."""
    return Cli(tmp_path / "var")


async def _write(url: str, key: bytes | None, n: int) -> None:
    engine = create_engine(url)
    try:
        async with session_maker(engine, audit_key=key)() as s:
            for i in range(n):
                await audit.record_now(
                    s, actor=Actor.system(), action="admin", object_type="test", object_id=i
                )
    finally:
        await engine.dispose()


def _events(cli: Cli, n: int) -> None:
    """Audited events written as the server writes them: keyed with the data directory's key."""
    key = Settings(data_dir=cli.data_dir).with_secret().audit_key_bytes
    asyncio.run(_write(cli.db_url, key, n))


async def _rebuild(url: str, *, drop_seq: int) -> int:
    """What someone who can write the database (but has no key) does: delete an event, then
    number and hash the rest again so that every link checks out with SHA-256."""
    engine = create_engine(url)
    try:
        async with session_maker(engine)() as s:
            await s.execute(sa.delete(AuditEvent).where(col(AuditEvent.seq) == drop_seq))
            rows = list(
                (await s.execute(select(AuditEvent).order_by(col(AuditEvent.seq)))).scalars()
            )
            # Renumber from the top down so no two rows share a seq on the way.
            for ev in rows:
                if ev.seq > drop_seq:
                    await s.execute(
                        sa.update(AuditEvent)
                        .where(col(AuditEvent.seq) == ev.seq)
                        .values(seq=ev.seq - 1)
                    )
            await s.commit()
            rows = list(
                (await s.execute(select(AuditEvent).order_by(col(AuditEvent.seq)))).scalars()
            )
            prev = audit.GENESIS
            for ev in rows:
                ev.prev_hash = prev
                ev.hash = prev = audit.content_hash(ev)
                s.add(ev)
            await s.commit()
            return len(rows)
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_the_key_lives_outside_the_database_with_0600(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    key_file = cli.data_dir / "audit_key"
    assert key_file.exists()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 40
    _events(cli, 1)
    with open(cli.db_path, "rb") as f:
        assert key.encode() not in f.read()
    # The same key on the next run: the chain still verifies.
    assert cli.ok("audit", "verify").returncode == 0
    # TELEMED_AUDIT_KEY, when set, is the key: the chain written with the file's key fails it.
    other = cli("audit", "verify", env={"TELEMED_AUDIT_KEY": "khoa-khac-" + "x" * 32})
    assert other.returncode == 1


def test_a_rebuilt_chain_is_detected(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    _events(cli, 3)
    assert cli.ok("audit", "verify").returncode == 0
    remaining = asyncio.run(_rebuild(cli.db_url, drop_seq=2))
    assert remaining >= 2
    broken = cli("audit", "verify")
    assert broken.returncode == 1
    assert "1" in broken.stdout  # the first event already fails: no link was hashed with the key


@pytest.mark.slow
def test_an_exported_head_finds_a_cut_tail(cli: Cli, tmp_path: Path) -> None:
    cli.ok("db", "upgrade")
    _events(cli, 2)
    log = tmp_path / "ngoai" / "audit-head.log"
    log.parent.mkdir()
    printed = cli.ok("audit", "head", "--out", str(log)).stdout.split()
    seq, digest = int(printed[1]), printed[2]
    assert len(digest) == 64 and log.read_text().split()[1:] == [str(seq), digest]
    assert cli.ok("audit", "verify", "--head", str(log)).returncode == 0
    # The last event cut off: the rest of the chain still links, but the head is gone.
    import sqlite3

    with sqlite3.connect(cli.db_path) as db:
        db.execute("DELETE FROM audit_event WHERE seq = ?", (seq,))
    assert cli.ok("audit", "verify").returncode == 0
    cut = cli("audit", "verify", "--head", str(log))
    assert cut.returncode == 1 and str(seq) in cut.stdout


@pytest.mark.slow
def test_a_chain_from_before_the_key_is_rekeyed_once(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    # Events as written before the key existed (plain SHA-256), then a server that already ran
    # the new version before the re-key (keyed events on top).
    asyncio.run(_write(cli.db_url, None, 3))
    _events(cli, 2)
    before = cli("audit", "verify")
    assert before.returncode == 1 and "rekey" in before.stdout
    rekeyed = cli.ok("audit", "rekey").stdout.split()
    assert rekeyed[0] == "5"
    assert cli.ok("audit", "verify").returncode == 0
    # Once keyed, a second re-key is refused: it would bless a chain rebuilt in between.
    again = cli("audit", "rekey")
    assert again.returncode == 1
    _events(cli, 1)
    assert cli.ok("audit", "verify").returncode == 0
