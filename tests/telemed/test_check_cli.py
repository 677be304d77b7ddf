"""`telemed check` as a real subprocess on the demo world: passes, then fails when broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.telemed.test_cli import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A command line bound to a data directory holding the demo world."""
    cli = Cli(tmp_path / "var")
    cli.ok("db", "upgrade")
    cli.ok("demo", "--password", "Hội-chẩn-2026-an-toàn")
    return cli


def test_check_passes_on_the_demo_then_fails_on_a_missing_file(cli: Cli) -> None:
    done = cli.ok("check")
    assert "Không phát hiện vấn đề nào" in done.stdout
    blob = next(p for p in (cli.data_dir / "blobs").glob("??/*") if p.is_file())
    blob.unlink()
    broken = cli("check")
    assert broken.returncode == 1
    assert "[missing-file]" in broken.stdout
    assert blob.name in broken.stdout


def test_leftovers_are_removed_on_request(cli: Cli) -> None:
    tmp = cli.data_dir / "blobs" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    # No process has this pid: the upload that wrote this is gone.
    dead = tmp / f"{0x7FFFFFF0}-abc.part"
    dead.write_bytes(b"half an upload")
    found = cli("check")
    assert found.returncode == 1 and "[leftover-temp]" in found.stdout
    cleaned = cli.ok("check", "--remove-leftovers")
    assert (
        "ĐÃ XÓA [leftover-temp]" in cleaned.stdout
        and "Không phát hiện vấn đề nào" in cleaned.stdout
    )
    assert not dead.exists()
    assert "Không phát hiện vấn đề nào" in cli.ok("check").stdout
