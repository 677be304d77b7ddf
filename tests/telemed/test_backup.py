"""`telemed backup` and `telemed restore` as real subprocesses, on SQLite and PostgreSQL.

The backup runs while uploads keep committing files, rows and audit events; the restore goes
into an empty place, and `telemed check` must then pass, audit chain included.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from ci import PG_URL, require_service, schema_url
from sqlalchemy import text

from records.actor import Actor
from records.blobs import BlobStore
from records.db import create_engine, session_maker
from records.integrity import check
from records.models import AttachmentKind, FacilityLevel
from records.services import attachments
from tests import factories
from tests.telemed.test_cli import REPO, Cli

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Place:
    """A data directory and database the command line works on."""

    def __init__(self, cli: Cli, url: str) -> None:
        self.cli = cli
        self.url = url

    @property
    def audit_key(self) -> bytes:
        """The audit key of this data directory (made by its first command), as the server
        would use it."""
        return (self.cli.data_dir / "audit_key").read_text().strip().encode()

    def run(self, *args: str) -> tuple[int, str, str]:
        """One command on this place."""
        done = self.cli(*args, "--database-url", self.url)
        return done.returncode, done.stdout, done.stderr

    async def arun(self, *args: str) -> tuple[int, str, str]:
        """One command on this place, without blocking the event loop."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "telemed",
            *args,
            "--database-url",
            self.url,
            cwd=REPO,
            env=self.cli.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert b"Traceback" not in err, err.decode()
        return int(proc.returncode or 0), out.decode(), err.decode()


async def _uploads_until(place: Place, stop: asyncio.Event) -> int:
    """Upload distinct files to a fresh case until told to stop; how many committed."""
    engine = create_engine(place.url)
    blobs = BlobStore(place.cli.data_dir / "blobs")
    done = 0
    try:
        async with session_maker(engine, audit_key=place.audit_key)() as session:
            province = await factories.facility(session, level=FacilityLevel.provincial)
            district = await factories.facility(session, parent=province)
            doctor = await factories.user(session, facility=district)
            patient = await factories.patient(session, facility=district)
            case = await factories.case(session, patient=patient, author=doctor)
            while not stop.is_set() or done < 3:
                await attachments.upload(
                    session=session,
                    blobs=blobs,
                    actor=Actor.of(doctor),
                    case_id=case.id,
                    kind=AttachmentKind.lab,
                    filename=f"xet-nghiem-{done}.pdf",
                    chunks=_one(PDF + secrets.token_bytes(20_000) + b"\n%%EOF\n"),
                    max_bytes=1_000_000,
                )
                done += 1
    finally:
        await engine.dispose()
    return done


async def _round_trip(source: Place, target: Place, out: Path, before_restore: object) -> None:
    assert source.run("db", "upgrade")[0] == 0
    stop = asyncio.Event()
    writer = asyncio.create_task(_uploads_until(source, stop))
    await asyncio.sleep(1.0)
    code, stdout, stderr = await source.arun("backup", "--out", str(out))
    stop.set()
    written = await writer
    assert code == 0, stderr
    assert "manifest.json" in stdout
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    in_backup = [k for k in manifest["files"] if k.startswith("files/")]
    assert 0 < len(in_backup) <= written
    if callable(before_restore):
        await before_restore()
    code, _, stderr = target.run("restore", "--from", str(out))
    assert code == 0, stderr
    code, stdout, stderr = target.run("check")
    assert code == 0, (stdout, stderr)
    assert "Không phát hiện vấn đề nào" in stdout
    # Every attachment of the snapshot came back with its file, and nothing more.
    engine = create_engine(target.url)
    try:
        async with session_maker(engine, audit_key=target.audit_key)() as session:
            report = await check(session=session, blobs=BlobStore(target.cli.data_dir / "blobs"))
    finally:
        await engine.dispose()
    assert report.ok
    assert report.attachments == len(in_backup) and report.files == len(in_backup)
    assert report.audit_events >= report.attachments
    secret = manifest["files"]["keys/secret_key"]["sha256"]
    assert secret and (target.cli.data_dir / "secret_key").exists()
    assert oct(os.stat(target.cli.data_dir / "secret_key").st_mode & 0o777) == "0o600"
    # A second restore onto data refuses and changes nothing.
    code, _, stderr = target.run("restore", "--from", str(out))
    assert code == 1 and stderr


async def test_backup_and_restore_on_sqlite_while_writing(tmp_path: Path) -> None:
    source = Cli(tmp_path / "live")
    target = Cli(tmp_path / "fresh")
    await _round_trip(
        Place(source, source.db_url), Place(target, target.db_url), tmp_path / "bk", None
    )


@pytest.mark.postgres
async def test_backup_and_restore_on_postgresql_while_writing(tmp_path: Path) -> None:
    require_service(PG_URL, 5432, "PostgreSQL")
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(PG_URL)
    url = schema_url(schema)

    async def drop() -> None:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        # The database goes away with its schema; the restore brings both back.
        await _round_trip(
            Place(Cli(tmp_path / "live"), url),
            Place(Cli(tmp_path / "fresh"), url),
            tmp_path / "bk",
            drop,
        )
    finally:
        await drop()
        await admin.dispose()


def test_a_damaged_backup_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    source = Cli(tmp_path / "live")
    source.ok("db", "upgrade")
    source.ok("demo", "--password", "Hội-chẩn-2026-an-toàn")
    source.ok("backup", "--out", str(tmp_path / "bk"))
    blob = next(p for p in (tmp_path / "bk" / "files").glob("??/*"))
    blob.write_bytes(blob.read_bytes() + b"x")
    target = Cli(tmp_path / "fresh")
    done = target("restore", "--from", str(tmp_path / "bk"))
    assert done.returncode == 1
    assert blob.name in done.stderr
    assert not target.db_path.exists()
    assert not (target.data_dir / "blobs").exists()
