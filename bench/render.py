"""Previews of large DICOM frames: what they cost the server process and the render worker.

Starts ``telemed serve`` on a small generated SQLite world, uploads a black RLE frame for each
of ``--frames`` (side and format: ``8000:grey8``, ``8000:grey16``, ``8000:rgb8``; built without
holding the picture, ``tests/hostile.py``; a fresh file per run, so the preview cache never
answers) and asks for each preview through the API. For
every preview it reports the growth of the server process's peak RSS (VmHWM, reset before
each request through ``/proc/PID/clear_refs``), the same for the one render worker (the fork
server's child) with its size before, and the time to the answer. The baseline, measured in the same
run on the same files, is the preview as it was rendered before the workers
(``bench/baselines/naive_preview.py``: decoded and windowed in float64 in one process).
Then a 20000 × 20000 frame, RLE and deflated, which the server flags at upload: the server's
growth from upload to answered preview.

Quick: ``python -m bench.render``.
Full: ``--frames 2000:grey8,4000:grey8,8000:grey8,8000:grey16,8000:rgb8 --runs 3``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from tests.hostile import deflated_dicom, rle_dicom

from .common import Server, Spread, free_port, machine, python_env, rss_bytes, say, table
from .records_api import _api_token
from .records_gen import generate

# Above 8000 × 8000, so those frames are rendered; 20000 × 20000 stays flagged.
MAX_PIXELS = 100_000_000
# Format name: bits a sample, samples a pixel.
FORMATS = {"grey8": (8, 1), "grey16": (16, 1), "rgb8": (8, 3)}


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    # Listed per thread: the fork server is started from a thread of the server's pool.
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _workers(server_pid: int) -> list[int]:
    """The render workers: children of the fork server, itself a child of the server."""
    return [w for child in _children(server_pid) for w in _children(child)]


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def _upload(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], case_id: str, path: Path
) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("kind", "dicom")
    with path.open("rb") as f:
        form.add_field("file", f, filename=path.name, content_type="application/dicom")
        async with http.post(
            f"{base}/api/v1/cases/{case_id}/attachments", data=form, headers=headers
        ) as resp:
            body: dict[str, Any] = await resp.json()
            if resp.status != 201:
                raise RuntimeError(f"upload refused: {resp.status} {body}")
            item: dict[str, Any] = body["items"][0]
            return item


def _baseline(path: Path, *options: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.baselines.naive_preview", *options, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=python_env(),
    )
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


async def measure(
    work: Path, frames: Sequence[tuple[int, str]], runs: int
) -> dict[str, dict[str, list[float]]]:
    """Every figure once per run, by row of the report."""
    data_dir = work / "var"
    data_dir.mkdir()
    url = f"sqlite+aiosqlite:///{(data_dir / 'telemed.db').resolve()}"
    gen = await generate(url, 500)
    token = await _api_token(url, gen.doctor_ids[0])
    port = free_port()
    env = python_env(
        TELEMED_DATA_DIR=str(data_dir),
        TELEMED_PORT=str(port),
        TELEMED_RENDER_MAX_PIXELS=str(MAX_PIXELS),
        # One worker, reused by every preview, so its growth can be read against its size before.
        TELEMED_RENDER_WORKERS="1",
    )
    server = Server([sys.executable, "-m", "telemed", "serve"], port, env, "/api/v1/openapi.json")
    await server.start()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, dict[str, list[float]]] = {}
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{base}/api/v1/cases", params={"limit": "1"}, headers=headers
            ) as r:
                patient_id = (await r.json())["items"][0]["patient_id"]
            draft = {
                "patient_id": patient_id,
                "title": "Ảnh rất lớn",
                "specialty": "Chẩn đoán hình ảnh",
            }
            async with http.post(f"{base}/api/v1/cases", json=draft, headers=headers) as r:
                if r.status != 201:
                    raise RuntimeError(f"case refused: {r.status} {await r.text()}")
                case_id = (await r.json())["id"]

            async def preview(item: dict[str, Any]) -> tuple[int, float]:
                t0 = time.perf_counter()
                async with http.get(
                    f"{base}/api/v1/attachments/{item['id']}/preview", headers=headers
                ) as r:
                    await r.read()
                    return r.status, time.perf_counter() - t0

            # The first render starts the fork server: not part of any figure.
            warm = rle_dicom(work / "warm.dcm", rows=256, columns=256)
            await preview(await _upload(http, base, headers, case_id, warm))
            for side, fmt in frames:
                bits, samples = FORMATS[fmt]
                row = out.setdefault(f"{side} × {side} {fmt}", {})
                for run in range(runs):
                    say(f"render: {side} × {side} {fmt} run {run + 1}/{runs}")
                    path = rle_dicom(
                        work / f"{side}-{fmt}-{run}.dcm",
                        rows=side,
                        columns=side,
                        bits=bits,
                        samples=samples,
                    )
                    item = await _upload(http, base, headers, case_id, path)
                    (worker,) = _workers(server.pid)
                    for pid in (server.pid, worker):
                        _reset_peak(pid)
                    rss0 = _status_kb(server.pid, "VmRSS")
                    worker_rss0 = _status_kb(worker, "VmRSS")
                    status, seconds = await preview(item)
                    if status != 200:
                        raise RuntimeError(f"preview of {side} × {side} {fmt}: {status}")
                    growth = _status_kb(server.pid, "VmHWM") - rss0
                    worker_growth = _status_kb(worker, "VmHWM") - worker_rss0
                    before = _baseline(path)
                    row.setdefault("server_rss_mb", []).append(rss_bytes(server.pid) / 2**20)
                    row.setdefault("server_growth_mb", []).append(max(0, growth) / 1024)
                    row.setdefault("worker_rss_mb", []).append(worker_rss0 / 1024)
                    row.setdefault("worker_growth_mb", []).append(max(0, worker_growth) / 1024)
                    row.setdefault("seconds", []).append(seconds)
                    row.setdefault("before_growth_mb", []).append(
                        before["peak_mb"] - before["start_mb"]
                    )
                    row.setdefault("before_seconds", []).append(before["seconds"])
                    path.unlink()
            for name, build in (("RLE", rle_dicom), ("deflated", deflated_dicom)):
                row = out.setdefault(f"20000 × 20000 grey8 {name}, flagged", {})
                for run in range(runs):
                    say(f"render: 20000 × 20000 {name} run {run + 1}/{runs}")
                    path = build(work / f"huge-{run}.dcm", rows=20000, columns=20000)
                    _reset_peak(server.pid)
                    rss0 = _status_kb(server.pid, "VmRSS")
                    item = await _upload(http, base, headers, case_id, path)
                    status, seconds = await preview(item)
                    if status != 400 or item["meta"].get("no_preview") != "too-large":
                        raise RuntimeError(f"20000 × 20000 {name} was not flagged: {status}")
                    growth = _status_kb(server.pid, "VmHWM") - rss0
                    before = _baseline(path, "--header")
                    row.setdefault("server_growth_mb", []).append(max(0, growth) / 1024)
                    row.setdefault("seconds", []).append(seconds)
                    row.setdefault("before_growth_mb", []).append(
                        before["peak_mb"] - before["start_mb"]
                    )
                    row.setdefault("before_seconds", []).append(before["seconds"])
                    path.unlink()
    finally:
        server.stop()
    return out


def report(results: dict[str, dict[str, list[float]]], runs: int) -> str:
    """A Markdown table: medians with their spread over runs."""
    rows = [
        [
            frame,
            Spread.of(r.get("server_rss_mb", [])).fmt(0),
            Spread.of(r.get("server_growth_mb", [])).fmt(1),
            Spread.of(r.get("worker_rss_mb", [])).fmt(0),
            Spread.of(r.get("worker_growth_mb", [])).fmt(0),
            Spread.of(r.get("seconds", [])).fmt(2),
            Spread.of(r.get("before_growth_mb", [])).fmt(0),
            Spread.of(r.get("before_seconds", [])).fmt(2),
        ]
        for frame, r in results.items()
    ]
    headers = [
        "frame (RLE unless said)",
        "server RSS MB",
        "server peak growth MB",
        "worker RSS before MB",
        "worker peak growth MB",
        "preview s",
        "before: peak growth MB",
        "before: s",
    ]
    return (
        f"{runs} run(s) each. Rendered frames: the preview request. Flagged frames: upload and "
        "preview request; their baseline is the header read the upload did before (their "
        "preview, before, needed gigabytes and is not run).\n\n" + table(headers, rows)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the render benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.render", description=__doc__)
    parser.add_argument(
        "--frames",
        default="4000:grey8,8000:grey8",
        help=f"side:format, comma-separated; formats: {', '.join(FORMATS)}",
    )
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    frames = []
    for entry in args.frames.split(","):
        side, _, fmt = entry.strip().partition(":")
        if fmt not in FORMATS:
            parser.error(f"unknown format {fmt!r} in {entry!r}")
        frames.append((int(side), fmt))
    with tempfile.TemporaryDirectory(prefix="telemed-bench-render-") as tmp:
        results = asyncio.run(measure(Path(tmp), frames, args.runs))
    print(machine())
    print()
    print(report(results, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
