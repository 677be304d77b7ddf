"""Relay cost, memory per idle participant and joins: Telemed against bare relays, same client.

For each target and participant count, every run starts a fresh server process, joins the
participants (Telemed: a join token from ``POST /api/v1/consultations/{id}/join`` with a bearer
token, then the WebSocket ``join``), measures the server's RSS growth per idle participant, then
offers ~1 KB ``offer``/``candidate`` frames at fixed rates and at the most the per-socket limit
allows, timing each frame from send to arrival and reading the server's CPU time from /proc.

Quick: ``python -m bench.relay``. Full: ``python -m bench.relay --participants 100,1000,5000,10000
--rates 2000,10000 --duration 10``. Two processes over Redis: ``--processes 2``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from .common import (
    REPO,
    Server,
    Spread,
    cpu_seconds,
    free_port,
    machine,
    percentile,
    python_env,
    rss_bytes,
    say,
    table,
)
from .loadclient import PER_SOCKET_MAX, LoadClient, Target
from .world import World, build_world

NODE_WS_DIR = Path(
    os.environ.get("BENCH_NODE_MODULES", Path.home() / ".cache" / "telemed-bench" / "node_modules")
)


def node_available() -> bool:
    """Whether Node.js and the `ws` package (in BENCH_NODE_MODULES) are there."""
    return shutil.which("node") is not None and (NODE_WS_DIR / "ws").is_dir()


@dataclass
class Setup:
    """Running servers and who joins where."""

    servers: list[Server]
    targets: list[tuple[Target, str]]


def _http_join(port: int, consultation_id: uuid.UUID, api_token: str) -> Target:
    async def get(http: aiohttp.ClientSession) -> str:
        async with http.post(
            f"http://127.0.0.1:{port}/api/v1/consultations/{consultation_id}/join",
            headers={"Authorization": f"Bearer {api_token}"},
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"join token refused: {resp.status} {await resp.text()}")
            info: dict[str, Any] = await resp.json()
        return f"{info['ws_url']}?token={info['token']}"

    return get


async def start_telemed(
    world: World,
    data_dir: Path,
    processes: int,
    redis_url: str | None,
    settings: Mapping[str, str] | None = None,
) -> Setup:
    """`telemed serve` processes on one data directory (over Redis when more than one)."""
    servers = []
    for _ in range(processes):
        port = free_port()
        env = python_env(TELEMED_DATA_DIR=str(data_dir), TELEMED_PORT=str(port))
        for name, value in (settings or {}).items():
            env["TELEMED_" + name.upper()] = value
        if redis_url:
            env["TELEMED_REDIS_URL"] = redis_url
        servers.append(
            Server([sys.executable, "-m", "telemed", "serve"], port, env, "/api/v1/openapi.json")
        )
    await asyncio.gather(*(s.start() for s in servers))
    targets: list[tuple[Target, str]] = []
    for room in world.rooms:
        for i, uid in enumerate(room.user_ids):
            port = servers[i % len(servers)].port
            join = _http_join(port, room.consultation_id, world.api_tokens[uid])
            targets.append((join, room.room_id))
    return Setup(servers, targets)


async def start_bare(kind: str, world: World) -> Setup:
    """The bare aiohttp relay or the Node `ws` relay, with the same rooms."""
    port = free_port()
    if kind == "aiohttp":
        argv = [sys.executable, "-m", "bench.baselines.aiohttp_relay", "--port", str(port)]
        env = python_env()
    else:
        argv = ["node", str(REPO / "bench" / "baselines" / "ws_relay.js"), str(port)]
        env = python_env(NODE_PATH=str(NODE_WS_DIR))
    server = Server(argv, port, env, "/healthz")
    await server.start()
    targets: list[tuple[Target, str]] = [
        (f"ws://127.0.0.1:{port}/ws/rooms/{room.room_id}", room.room_id)
        for room in world.rooms
        for _ in room.user_ids
    ]
    return Setup([server], targets)


async def _settle(pids: Sequence[int], limit: float = 60.0) -> float:
    """Wait until the servers go quiet after the joins (attendance rows are written behind)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        before = sum(cpu_seconds(p) for p in pids)
        await asyncio.sleep(1.0)
        if sum(cpu_seconds(p) for p in pids) - before < 0.05:
            break
    return time.perf_counter() - t0


async def one_run(
    kind: str,
    world: World,
    data_dir: Path,
    *,
    rates: Sequence[float],
    duration: float,
    processes: int,
    redis_url: str | None,
    settings: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Start the target, join everyone, measure memory and load; stop it."""
    if kind == "telemed":
        setup = await start_telemed(world, data_dir, processes, redis_url, settings)
    else:
        setup = await start_bare(kind, world)
    pids = [s.pid for s in setup.servers]
    out: dict[str, float] = {}
    try:
        async with LoadClient() as client:
            first_room = setup.targets[0][1]
            warm = [t for t in setup.targets if t[1] == first_room]
            rest = [t for t in setup.targets if t[1] != first_room]
            await client.join_all(warm)
            await asyncio.sleep(0.5)
            rss0 = sum(rss_bytes(p) for p in pids)
            t0 = time.perf_counter()
            times = await client.join_all(rest)
            out["join_total_s"] = time.perf_counter() - t0
            out["joins_per_s"] = len(rest) / out["join_total_s"] if rest else float("nan")
            out["join_p50_ms"] = percentile(times, 50) * 1000
            out["join_p99_ms"] = percentile(times, 99) * 1000
            out["settle_s"] = await _settle(pids)
            cpu0 = sum(cpu_seconds(p) for p in pids)
            await asyncio.sleep(2.0)
            out["idle_cpu_pct"] = (sum(cpu_seconds(p) for p in pids) - cpu0) / 2.0 * 100
            rss1 = sum(rss_bytes(p) for p in pids)
            out["rss_kb_per_peer"] = (rss1 - rss0) / 1024 / max(1, len(rest))
            await client.wait_for_peers()
            for rate in rates:
                res = await client.run_load(rate, duration, server_pids=pids)
                for key, value in res.items():
                    out[f"{key}@{int(rate)}"] = value
            sat = await client.run_load(
                PER_SOCKET_MAX * len(client.participants), duration, server_pids=pids
            )
            for key, value in sat.items():
                out[f"{key}@sat"] = value
    finally:
        for s in setup.servers:
            s.stop()
    return out


async def bench(
    participants: Sequence[int],
    targets: Sequence[str],
    *,
    rates: Sequence[float],
    duration: float,
    runs: int,
    processes: int,
    redis_url: str | None,
    settings: Mapping[str, str] | None = None,
) -> list[tuple[str, int, list[dict[str, float]]]]:
    """Every target at every size, `runs` times; raw results."""
    results = []
    for n in participants:
        with tempfile.TemporaryDirectory(prefix="telemed-bench-") as tmp:
            data_dir = Path(tmp) / "var"
            say(f"relay: building a world of {n} participants …")
            world = await build_world(data_dir, n, api_tokens="telemed" in targets)
            for kind in targets:
                per_run = []
                for r in range(runs):
                    say(f"relay: {kind} n={n} run {r + 1}/{runs}")
                    per_run.append(
                        await one_run(
                            kind,
                            world,
                            data_dir,
                            rates=rates,
                            duration=duration,
                            processes=processes if kind == "telemed" else 1,
                            redis_url=redis_url,
                            settings=settings,
                        )
                    )
                results.append((kind, n, per_run))
    return results


def _s(runs: list[dict[str, float]], key: str) -> Spread:
    return Spread.of([r.get(key, float("nan")) for r in runs])


def report(results: list[tuple[str, int, list[dict[str, float]]]], rates: Sequence[float]) -> str:
    """Markdown tables: throughput and CPU, latency at fixed loads, memory and joins."""
    load_rows = []
    for kind, n, runs in results:
        load_rows.append(
            [
                kind,
                n,
                _s(runs, "offered_per_s@sat").fmt(),
                _s(runs, "delivered_per_s@sat").fmt(),
                _s(runs, "cpu_us_per_msg@sat").fmt(1),
                _s(runs, "server_cpu_pct@sat").fmt(),
                _s(runs, "client_cpu_pct@sat").fmt(),
                f"{_s(runs, 'lost@sat').median:,.0f}",
                f"{_s(runs, 'errors@sat').median:,.0f}",
            ]
        )
    lat_rows = []
    for kind, n, runs in results:
        for rate in rates:
            k = int(rate)
            lat_rows.append(
                [
                    kind,
                    n,
                    f"{_s(runs, f'offered_per_s@{k}').median:,.0f}",
                    _s(runs, f"delivered_per_s@{k}").fmt(),
                    _s(runs, f"p50_ms@{k}").fmt(2),
                    _s(runs, f"p99_ms@{k}").fmt(2),
                    _s(runs, f"cpu_us_per_msg@{k}").fmt(1),
                    f"{_s(runs, f'lost@{k}').median:,.0f}",
                ]
            )
    mem_rows = [
        [
            kind,
            n,
            _s(runs, "rss_kb_per_peer").fmt(1),
            _s(runs, "idle_cpu_pct").fmt(1),
            _s(runs, "settle_s").fmt(1),
            _s(runs, "joins_per_s").fmt(),
            _s(runs, "join_total_s").fmt(2),
            _s(runs, "join_p50_ms").fmt(1),
            _s(runs, "join_p99_ms").fmt(1),
        ]
        for kind, n, runs in results
    ]
    return "\n\n".join(
        [
            "Saturation (each socket offers 25 frames/s, under Telemed's 30/s limit):\n\n"
            + table(
                [
                    "target",
                    "N",
                    "offered/s",
                    "delivered/s",
                    "server CPU µs/msg",
                    "server CPU %",
                    "client CPU %",
                    "lost",
                    "error frames",
                ],
                load_rows,
            ),
            "Fixed offered load:\n\n"
            + table(
                [
                    "target",
                    "N",
                    "offered/s",
                    "delivered/s",
                    "p50 ms",
                    "p99 ms",
                    "server CPU µs/msg",
                    "lost",
                ],
                lat_rows,
            ),
            "Idle memory and joins (concurrency 50; Telemed includes the HTTP join token):\n\n"
            + table(
                [
                    "target",
                    "N",
                    "RSS KB/participant",
                    "idle CPU %",
                    "quiet after s",
                    "joins/s",
                    "all joined s",
                    "join p50 ms",
                    "join p99 ms",
                ],
                mem_rows,
            ),
        ]
    )


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the relay benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    parser.add_argument("--participants", default="200", help="comma-separated sizes")
    parser.add_argument("--rates", default="2000", help="fixed offered loads, frames/s")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per load level")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--targets",
        default="telemed,aiohttp,node",
        help="telemed, aiohttp, node (node is skipped when Node.js or ws is missing)",
    )
    parser.add_argument("--processes", type=int, default=1, help="Telemed processes (Redis)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"))
    parser.add_argument(
        "--telemed-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Telemed setting for the server (TELEMED_NAME), e.g. gc_freeze_seconds=0",
    )
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.telemed_setting if "=" in item)
    targets = [t for t in args.targets.split(",") if t]
    if "node" in targets and not node_available():
        say(f"relay: Node.js or ws missing (looked in {NODE_WS_DIR}); skipping the node relay")
        targets.remove("node")
    if args.processes > 1 and not args.redis_url:
        args.redis_url = "redis://127.0.0.1:6379/0"
    rates = [float(r) for r in _ints(args.rates)]
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    results = asyncio.run(
        bench(
            _ints(args.participants),
            targets,
            rates=rates,
            duration=args.duration,
            runs=args.runs,
            processes=args.processes,
            redis_url=args.redis_url,
            settings=settings,
        )
    )
    print(f"## Relay ({args.processes} Telemed process{'es' if args.processes > 1 else ''})\n")
    print(machine() + "\n")
    print(report(results, rates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
