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
