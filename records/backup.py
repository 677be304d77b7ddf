"""Online backups of the records and their files, and their restore into a fresh place.

A backup is a directory: the database (``telemed.db``, taken with SQLite's online backup API,
or ``database.pgdump``, ``pg_dump``'s custom format), ``files/ab/<sha256>`` for every file an
attachment row of that snapshot refers to, the secret keys of the data directory under
``keys/``, and ``manifest.json`` listing every one of them with its SHA-256 and size.

The files and the database must agree although the server keeps writing. An upload places its
file before it commits its row, and a file goes only after its row is gone, so: every file in
the store is copied first; then the database snapshot is taken; then any file a row of the
snapshot names that was not there in the first pass (uploaded meanwhile) is copied from the
store, where it still is since the row existed at the snapshot; files the snapshot does not
name are dropped. On PostgreSQL the rows are read in the very snapshot ``pg_dump`` exports.

``restore`` checks every hash of the manifest before it writes anything, and refuses a target
that already holds data.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from .blobs import CHUNK
from .db import create_engine, is_sqlite

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "telemed.db"
PG_FILE = "database.pgdump"
# Files of the data directory a restored server needs to read what it wrote (sessions, keyed
# hashes); they are copied with mode 0600.
KEY_FILES = ("secret_key",)
_HEX = frozenset("0123456789abcdef")


class BackupError(Exception):
    """The backup or restore cannot proceed; the message says why, for the operator."""


@dataclass(slots=True)
class Manifest:
    """What a backup holds: each file's SHA-256 and size, relative to the backup directory."""

    database: str
    created_at: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The manifest as written to ``manifest.json``."""
        return orjson.dumps(
            {
                "format": FORMAT,
                "database": self.database,
                "created_at": self.created_at,
                "files": self.files,
            },
            option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
        )

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read a backup's manifest (BackupError if absent or of another format)."""
        try:
            raw = orjson.loads((directory / MANIFEST).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise BackupError(f"không đọc được {directory / MANIFEST}: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise BackupError(f"{directory / MANIFEST}: không phải bản sao lưu định dạng {FORMAT}")
        return cls(database=raw["database"], created_at=raw["created_at"], files=raw["files"])


def _copy_hashed(src: Path, dst: Path) -> tuple[str, int]:
    """Copy a file, fsynced, returning the SHA-256 and size of the bytes written."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, dst)
    return digest.hexdigest(), size


def _hash(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _blob_rel(sha: str) -> str:
    return f"files/{sha[:2]}/{sha}"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("chỉ sao lưu được cơ sở dữ liệu SQLite nằm trong một tệp")
    return Path(database)


def _pg_env(url: str) -> tuple[dict[str, str], str | None]:
    """libpq's environment for a SQLAlchemy PostgreSQL URL, and its schema if it names one."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    for key, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[key] = str(value)
    # A Unix socket directory given as `?host=/run/postgresql`, as asyncpg takes it.
    socket_dir = parsed.query.get("host")
    if socket_dir and not parsed.host:
        env["PGHOST"] = str(socket_dir)
    schema = parsed.query.get("search_path")
    return env, str(schema) if schema else None


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{cmd[0]} thất bại: {done.stderr.strip() or done.stdout.strip()}")


def _sqlite_snapshot(src: Path, dst: Path) -> list[str]:
    """Copy a live SQLite database page by page; the attachment hashes of the copy."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        rows = target.execute("SELECT sha256 FROM attachment").fetchall()
    finally:
        target.close()
        source.close()
    return [str(sha) for (sha,) in rows]


async def _pg_snapshot(url: str, dst: Path) -> list[str]:
    """pg_dump in a snapshot exported by a transaction that reads the attachment hashes."""
    env, schema = _pg_env(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                snapshot = (await conn.execute(sa.text("SELECT pg_export_snapshot()"))).scalar()
                rows = (await conn.execute(sa.text("SELECT sha256 FROM attachment"))).all()
                cmd = ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dst}"]
                cmd += ["--no-owner", "--no-privileges"]
                if schema:
                    cmd.append(f"--schema={schema}")
                # The exporting transaction stays open until pg_dump has taken its snapshot.
                await asyncio.to_thread(_run, cmd, env)
    finally:
        await engine.dispose()
    return [str(sha) for (sha,) in rows]


def _stored(blob_dir: Path) -> Iterable[Path]:
    if not blob_dir.is_dir():
        return
    for sub in sorted(blob_dir.iterdir()):
        if sub.is_dir() and len(sub.name) == 2 and set(sub.name) <= _HEX:
            yield from (p for p in sorted(sub.iterdir()) if p.is_file())


def _empty_dir(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} đã tồn tại và không trống")
    path.mkdir(parents=True, exist_ok=True)


async def backup(*, database_url: str, blob_dir: Path, data_dir: Path, out: Path) -> Manifest:
    """Take a consistent snapshot of the database, its files and the keys into ``out``."""
    _empty_dir(out)
    files: dict[str, dict[str, Any]] = {}
    # First pass: every file now in the store (bytes are checked against their name).
    copied: set[str] = set()
    for path in _stored(blob_dir):
        try:
            sha, size = await asyncio.to_thread(_copy_hashed, path, out / _blob_rel(path.name))
        except FileNotFoundError:
            continue  # removed meanwhile: its row went first, so the snapshot will not name it
        if sha == path.name:
            copied.add(sha)
    if is_sqlite(database_url):
        db_file = SQLITE_FILE
        shas = await asyncio.to_thread(
            _sqlite_snapshot, _sqlite_path(database_url), out / SQLITE_FILE
        )
    else:
        db_file = PG_FILE
        shas = await _pg_snapshot(database_url, out / PG_FILE)
    wanted = set(shas)
    for sha in sorted(wanted - copied):
        src = blob_dir / sha[:2] / sha
        try:
            got, _ = await asyncio.to_thread(_copy_hashed, src, out / _blob_rel(sha))
        except FileNotFoundError:
            raise BackupError(f"tệp {sha} của một tệp đính kèm không có trong kho") from None
        if got != sha:
            raise BackupError(f"tệp {sha} trong kho bị hỏng (mã băm không khớp)")
    for sha in copied - wanted:
        (out / _blob_rel(sha)).unlink()
    for sha in sorted(wanted):
        rel = _blob_rel(sha)
        files[rel] = {"sha256": sha, "size": (out / rel).stat().st_size}
    for name in KEY_FILES:
        if (data_dir / name).is_file():
            rel = f"keys/{name}"
            sha, size = await asyncio.to_thread(_copy_hashed, data_dir / name, out / rel)
            os.chmod(out / rel, 0o600)
            files[rel] = {"sha256": sha, "size": size}
    sha, size = await asyncio.to_thread(_hash, out / db_file)
    files[db_file] = {"sha256": sha, "size": size}
    manifest = Manifest(
        database=db_file, created_at=datetime.now(UTC).isoformat(timespec="seconds"), files=files
    )
    tmp = out / (MANIFEST + ".part")
    tmp.write_bytes(manifest.to_json())
    os.replace(tmp, out / MANIFEST)
    return manifest


def verify_backup(directory: Path) -> Manifest:
    """Check every file of a backup against its manifest (BackupError on the first mismatch)."""
    manifest = Manifest.read(directory)
    for rel, entry in manifest.files.items():
        path = directory / rel
        if not path.is_file():
            raise BackupError(f"bản sao lưu thiếu {rel}")
        if _hash(path) != (entry["sha256"], entry["size"]):
            raise BackupError(f"{rel} trong bản sao lưu bị hỏng (mã băm không khớp)")
    return manifest


async def _pg_is_empty(url: str) -> bool:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                sa.text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            )
            return int(found.scalar_one()) == 0
    finally:
        await engine.dispose()


async def restore(*, source: Path, database_url: str, blob_dir: Path, data_dir: Path) -> Manifest:
    """Bring a backup back into an empty database and data directory."""
    manifest = await asyncio.to_thread(verify_backup, source)
    sqlite = is_sqlite(database_url)
    if sqlite != (manifest.database == SQLITE_FILE):
        raise BackupError("bản sao lưu và cơ sở dữ liệu đích khác loại (SQLite/PostgreSQL)")
    if any(True for _ in _stored(blob_dir)):
        raise BackupError(f"kho tệp {blob_dir} đã có dữ liệu")
    if sqlite:
        target = _sqlite_path(database_url)
        if target.exists() and target.stat().st_size > 0:
            raise BackupError(f"{target} đã tồn tại: hãy khôi phục vào một thư mục mới")
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(_sqlite_restore, source / SQLITE_FILE, target)
    else:
        if not await _pg_is_empty(database_url):
            raise BackupError("cơ sở dữ liệu đích đã có bảng: hãy khôi phục vào một cơ sở mới")
        env, _ = _pg_env(database_url)
        cmd = ["pg_restore", "--no-owner", "--no-privileges", "--single-transaction"]
        cmd += ["--exit-on-error", f"--dbname={env.get('PGDATABASE', '')}", str(source / PG_FILE)]
        await asyncio.to_thread(_run, cmd, env)
    data_dir.mkdir(parents=True, exist_ok=True)
    for rel, entry in manifest.files.items():
        if rel.startswith("files/"):
            sha = entry["sha256"]
            await asyncio.to_thread(_copy_hashed, source / rel, blob_dir / sha[:2] / sha)
        elif rel.startswith("keys/"):
            # The target holds no data yet, so a key generated there protects nothing.
            target_key = data_dir / rel.removeprefix("keys/")
            await asyncio.to_thread(_copy_hashed, source / rel, target_key)
            os.chmod(target_key, 0o600)
    return manifest


def _sqlite_restore(src: Path, dst: Path) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
    finally:
        target.close()
        source.close()
