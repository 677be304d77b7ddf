"""`telemed archive export` then `verify`: the demo's finished consultation round-trips; a
modified, missing or extra file fails the check; deleting what the archive keeps is refused."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import orjson
import pytest

from records.blobs import BlobStore
from records.db import create_engine, session_maker
from records.services import attachments

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Hội-chẩn-2026-an-toàn"


def telemed(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m telemed …` on a SQLite data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEMED_")}
    env["TELEMED_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "telemed", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def rewrite(source: Path, target: Path, change: dict[str, bytes | None]) -> None:
    """Copy an archive, replacing (bytes), dropping (None) or adding files by name."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            if info.filename in change:
                data = change[info.filename]
                if data is not None:
                    dst.writestr(info.filename, data)
            else:
                dst.writestr(info, src.read(info.filename))
        for name, data in change.items():
            if name not in src.namelist() and data is not None:
                dst.writestr(name, data)


async def _record(data: Path, consultation_id: uuid.UUID, path: Path) -> None:
    """A recording of the session, kept as the recorder keeps one."""
    path.write_bytes(b"\x1aE\xdf\xa3" + bytes(range(256)) * 64)
    engine = create_engine(f"sqlite+aiosqlite:///{data / 'telemed.db'}")
    try:
        async with session_maker(engine)() as session:
            await attachments.store_recording(
                session=session,
                blobs=BlobStore(data / "blobs"),
                consultation_id=consultation_id,
                path=path,
                content_type="video/webm",
                meta={"duration": 3.5},
            )
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The demo on a fresh SQLite data directory and the archive of its finished session."""
    root = tmp_path_factory.mktemp("archive")
    data = root / "data"
    assert telemed(data, "db", "upgrade").returncode == 0
    assert telemed(data, "demo", "--password", PASSWORD).returncode == 0
    with sqlite3.connect(data / "telemed.db") as db:
        (raw,) = db.execute(
            "SELECT id FROM consultation WHERE status = 'ended' AND title LIKE ?",
            ("Hội chẩn khẩn thần kinh%",),
        ).fetchone()
    consultation_id = str(uuid.UUID(str(raw)))
    asyncio.run(_record(data, uuid.UUID(consultation_id), root / "recording.webm"))
    out = root / "hoi-chan.zip"
    done = telemed(data, "archive", "export", "--consultation", consultation_id, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return data, out, consultation_id


def test_export_then_verify_round_trips(archived: tuple[Path, Path, str]) -> None:
    data, out, consultation_id = archived
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        manifest = orjson.loads(z.read("manifest.json"))
        bundle = orjson.loads(next(z.read(n) for n in names if n.startswith("fhir/")))
        chat = orjson.loads(z.read("chat.json"))
        audit = orjson.loads(z.read("audit.json"))
    assert manifest["consultation_id"] == consultation_id
    assert {f["path"] for f in manifest["files"]} == names - {"manifest.json"}
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    assert any(n.startswith("attachments/") for n in names)
    assert chat and {"name", "text", "at"} <= set(chat[0])
    assert any(e["action"] == "status" and e["object_type"] == "minutes" for e in audit)
    ok = telemed(data, "archive", "verify", str(out))
    assert ok.returncode == 0 and "OK" in ok.stdout, ok.stdout
    with sqlite3.connect(data / "telemed.db") as db:
        exports = db.execute(
            "SELECT detail FROM audit_event "
            "WHERE action = 'export' AND object_type = 'consultation'"
        ).fetchall()
    assert len(exports) == 1 and "manifest_sha256" in exports[0][0]


def test_a_modified_missing_or_extra_file_fails(
    archived: tuple[Path, Path, str], tmp_path: Path
) -> None:
    data, out, _ = archived
    with zipfile.ZipFile(out) as z:
        attachment = next(n for n in z.namelist() if n.startswith("attachments/"))
        original = z.read(attachment)
    flipped = bytes([original[0] ^ 0x01]) + original[1:]
    for change, expected in (
        ({attachment: flipped}, f"modified: {attachment}"),
        ({"chat.json": b"[]"}, "modified: chat.json"),
        ({attachment: None}, f"missing: {attachment}"),
        ({"notes.txt": b"added later"}, "extra: notes.txt"),
    ):
        bad = tmp_path / "bad.zip"
        rewrite(out, bad, change)
        result = telemed(data, "archive", "verify", str(bad))
        assert result.returncode == 1, result.stdout
        assert expected in result.stdout, result.stdout
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert telemed(data, "archive", "verify", str(tmp_path / "junk.zip")).returncode == 1


def test_unknown_consultation_is_refused(archived: tuple[Path, Path, str], tmp_path: Path) -> None:
    data, _, _ = archived
    out = tmp_path / "none.zip"
    missing = telemed(
        data, "archive", "export", "--consultation", str(uuid.uuid4()), "--out", str(out)
    )
    assert missing.returncode == 1 and not out.exists()
    bad = telemed(data, "archive", "export", "--consultation", "HC-1234", "--out", str(out))
    assert bad.returncode == 1 and not out.exists()
