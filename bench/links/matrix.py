"""``make netem``: every link profile for a call of two and a mesh of four, one run each.

Each run prints one JSON line (``bench.links.call``); at the end a Markdown table per
direction goes to stdout, CPU load beside every figure and saturated runs marked.
``python -m bench.links.matrix --profiles thin,adsl --sites 2 --seconds 30 --out runs.jsonl``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..common import machine, say
from .call import run
from .profiles import PROFILES


def _f(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return format(value, fmt)


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: one row per run and receiving direction."""
    head = (
        "| profile | sites | adapt | direction | audio concealed | longest gap s "
        "| jitter buffer ms | video fps | resolution | freezes (s) | CPU busy / load | note |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        cpu = f"{r['cpu_busy']:.0%} / {r['loadavg']:.1f}"
        note = "saturated" if r["saturated"] else ""
        tag = f"{r['profile']} | {r['sites']} | {'on' if r['adapt'] else 'off'}"
        for direction, q in sorted(r["directions"].items()):
            if q is None:
                rows.append(f"| {tag} | {direction} | no media "
                            f"| | | | | | {cpu} | {note} |")  # fmt: skip
                continue
            size = f"{q['width']}×{q['height']}" if q["width"] else "–"
            rows.append(
                f"| {tag} | {direction} | {_f(q['concealment'], '.1%')} "
                f"| {_f(q['longest_gap_s'], '.2f')} | {_f(q['jitter_buffer_ms'], '.0f')} "
                f"| {_f(q['fps'], '.1f')} | {size} | {q['freezes']} ({_f(q['freeze_s'], '.1f')}) "
                f"| {cpu} | {note} |"
            )
    return head + "\n".join(rows) + "\n"


def outages(results: list[dict[str, Any]]) -> str:
    """Markdown: recovery after the outage profiles."""
    head = (
        "| profile | sites | adapt | direction | audio back s | video back s | view after "
        "| the province saw | CPU busy / load |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        o = r["outage"]
        if "outage_s" not in o:
            continue
        for direction, back in sorted((k, v) for k, v in o.items() if "->" in k):
            rows.append(
                f"| {r['profile']} | {r['sites']} | {'on' if r['adapt'] else 'off'} | {direction} "
                f"| {_f(back['audio_back_s'], '.1f')} | {_f(back['video_back_s'], '.1f')} "
                f"| {o.get('district_view_end')} "
                f"| {', '.join(o.get('province_saw', [])) or 'nothing'} "
                f"| {r['cpu_busy']:.0%} / {r['loadavg']:.1f} |"
            )
    return head + "\n".join(rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the matrix; a run that breaks is reported and the others go on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--sites", default="2,4")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--out", type=Path, help="append each run's JSON line to this file")
    parser.add_argument("--adapt", choices=("on", "off", "both"), default="both",
                        help="adapt.js on (after), off (before), or both")  # fmt: skip
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.adapt]
    plan = [
        (sites, name, adapt)
        for sites in [int(s) for s in args.sites.split(",")]
        for name in args.profiles.split(",")
        for adapt in modes
    ]
    for sites, name, adapt in plan:
        say(f"netem: {name}, {sites} sites, adaptation {'on' if adapt else 'off'}")
        try:
            with tempfile.TemporaryDirectory(prefix="telemed-links-") as tmp:
                measured = run(PROFILES[name], sites, args.seconds, Path(tmp), adapt=adapt)
                result = asdict(asyncio.run(measured))
        except Exception:  # one broken run must not stop the matrix
            say(f"netem: {name}, {sites} sites failed\n{traceback.format_exc()}")
            continue
        line = json.dumps(result)
        print(line, flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(line + "\n")
        results.append(result)
    print(f"\n{started}; {machine()}\n")
    print(table(results))
    print(outages(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
