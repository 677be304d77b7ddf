"""Keep the benchmarks from rotting: the relay and render benchmarks run end to end, small."""

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
    report = tables(out)
    rows = [row for table in report.values() for row in table]
    assert len(rows) == 6 and {row["target"] for row in rows} == {"telemed", "aiohttp"}
    # Every frame offered at the fixed load arrived, through Telemed and the bare relay.
    [fixed] = [table for heading, table in report.items() if heading.startswith("Fixed")]
    assert sorted(row["target"] for row in fixed) == ["aiohttp", "telemed"]
    assert all(row["offered/s"] == "40" and row["lost"] == "0" for row in fixed), fixed


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
    [rows] = tables(result.stdout).values()
    frames = {row["frame (RLE unless said)"]: row for row in rows}
    assert list(frames) == [
        "1000 × 1000 grey8",
        "1000 × 1000 rgb8",
        "20000 × 20000 grey8 RLE, flagged",
        "20000 × 20000 grey8 deflated, flagged",
    ]
    # Rendered frames were measured in the server and in its worker; flagged ones never reached
    # a worker.
    for frame in ("1000 × 1000 grey8", "1000 × 1000 rgb8"):
        assert frames[frame]["worker peak growth MB"] not in ("", "–"), frames[frame]
    assert frames["20000 × 20000 grey8 RLE, flagged"]["worker peak growth MB"] == "–"


def tables(out: str) -> dict[str, list[dict[str, str]]]:
    """The report's Markdown tables by the line above each, as rows keyed by column name."""
    found: dict[str, list[dict[str, str]]] = {}
    heading, header = "", None
    for line in out.splitlines():
        if not line.startswith("|"):
            if line.strip():
                heading, header = line.strip(), None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            found[heading] = []
        elif not set(line) <= {"|", "-"}:
            found[heading].append(dict(zip(header, cells, strict=True)))
    return found
