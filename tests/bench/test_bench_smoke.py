"""Keep the benchmarks from rotting: the relay benchmark runs end to end with a tiny load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_relay_runs_and_prints_its_tables() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.relay",
            "--participants",
            "6",
            "--runs",
            "1",
            "--duration",
            "0.5",
            "--rates",
            "40",
            "--targets",
            "telemed,aiohttp",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in result.stderr
    for heading in ("Saturation", "Fixed offered load", "Idle memory and joins"):
        assert heading in out
    rows = [line for line in out.splitlines() if line.startswith(("| telemed", "| aiohttp"))]
    assert len(rows) == 6
    # Every frame offered at the fixed load arrived, through Telemed and the bare relay.
    fixed = [r for r in rows if "| 40 " in r]
    assert len(fixed) == 2
    assert all(r.rstrip(" |").endswith("| 0") for r in fixed), fixed


@pytest.mark.slow
def test_render_benchmark_runs_and_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.render", "--frames", "1000:grey8,1000:rgb8"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for row in ("| 1000 × 1000 grey8", "| 1000 × 1000 rgb8", "RLE, flagged", "deflated, flagged"):
        assert row in result.stdout
