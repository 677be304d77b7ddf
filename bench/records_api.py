"""The records store through the HTTP API: case list, patient search, case detail, big upload.

Generates the data (``bench.records_gen``), starts ``telemed serve`` on it and, as a doctor of
one district centre with a bearer token, times the case list of the facility, an accent-free
patient search, and a case detail (the case and its ten attachments); then uploads one large
file and compares its throughput with ``cp`` of the same file on the same disk, with the
server's peak RSS growth.

Quick: ``python -m bench.records_api``. Full: ``--patients 1000000 --upload-mb 500``.
PostgreSQL: ``--databases sqlite,postgres`` (a private schema in BENCH_PG_URL, dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from records.actor import Actor
from records.db import create_engine, session_maker
from records.models import User
from records.services import auth

from .common import (
    Server,
    Spread,
    free_port,
    machine,
    peak_rss_bytes,
    percentile,
    python_env,
    rss_bytes,
    say,
    table,
)
from .records_gen import generate

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SEARCHES = ("nguyen van an", "tran thi lan", "le minh", "pham thu hang", "vo ngoc", "do van")


async def _api_token(url: str, doctor_id: Any) -> str:
    engine = create_engine(url)
    try:
        async with session_maker(engine)() as session:
            user = await session.get(User, doctor_id)
            assert user is not None
            raw, _ = await auth.create_api_token(
                session=session, user=user, ttl=timedelta(hours=6), actor=Actor.system("bench")
            )
            return raw
    finally:
        await engine.dispose()


async def _timed(n: int, op: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        await op(i)
        times.append((time.perf_counter() - t0) * 1000)
    return percentile(times, 50), percentile(times, 95)


def _pdf(path: Path, size: int) -> None:
    """A file the server accepts as PDF (sniffed by its first bytes), random inside."""
    with path.open("wb") as f:
        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        left = size - f.tell()
        block = os.urandom(1 << 20)
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
        f.flush()
        os.fsync(f.fileno())


async def _upload(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], case_id: str, path: Path
) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("kind", "lab")
    with path.open("rb") as f:
        form.add_field("file", f, filename=path.name, content_type="application/pdf")
        async with http.post(
            f"{base}/api/v1/cases/{case_id}/attachments", data=form, headers=headers
        ) as resp:
            body: dict[str, Any] = await resp.json()
            if resp.status not in (200, 201):
                raise RuntimeError(f"upload refused: {resp.status} {body}")
            return body


async def one_database(
    kind: str, work: Path, *, patients: int, requests: int, runs: int, upload_mb: int
) -> dict[str, list[float]]:
    """Generate, serve and measure one database; every figure once per run."""
    data_dir = work / f"var-{kind}"
    data_dir.mkdir(parents=True)
    schema = None
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{(data_dir / 'telemed.db').resolve()}"
    else:
        schema = "bench_" + secrets.token_hex(4)
        admin = create_engine(PG_URL)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}search_path={schema}"
    out: dict[str, list[float]] = {}
    try:
        say(f"records: generating {patients:,} patients and cases on {kind} …")
        t0 = time.perf_counter()
        gen = await generate(url, patients)
        out["generate_s"] = [time.perf_counter() - t0]
        token = await _api_token(url, gen.doctor_ids[0])
        port = free_port()
        env = python_env(
            TELEMED_DATA_DIR=str(data_dir),
            TELEMED_PORT=str(port),
            TELEMED_MAX_UPLOAD_BYTES=str(max(upload_mb, 1) * 1024 * 1024 + 1024 * 1024),
        )
        if kind != "sqlite":
            env["TELEMED_DATABASE_URL"] = url
        server = Server(
            [sys.executable, "-m", "telemed", "serve"], port, env, "/api/v1/openapi.json"
        )
        await server.start()
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with aiohttp.ClientSession() as http:

                async def get(path: str, **params: str) -> Any:
                    async with http.get(base + path, params=params, headers=headers) as r:
                        if r.status != 200:
                            raise RuntimeError(f"{path}: {r.status} {await r.text()}")
                        return await r.json()

                first = await get("/api/v1/cases", limit="1")
                case_id = first["items"][0]["id"]
                small = work / "small.pdf"
                _pdf(small, 64 * 1024)
                for _ in range(10):
                    await _upload(http, base, headers, case_id, small)

                async def case_list(i: int) -> None:
                    await get("/api/v1/cases", limit="20", offset=str((i % 5) * 20))

                async def search(i: int) -> None:
                    await get("/api/v1/patients", q=SEARCHES[i % len(SEARCHES)], limit="20")

                async def detail(i: int) -> None:
                    await get(f"/api/v1/cases/{case_id}")
                    items = await get(f"/api/v1/cases/{case_id}/attachments")
                    assert len(items["items"] if isinstance(items, dict) else items) >= 10

                for name, op in (("case_list", case_list), ("search", search), ("detail", detail)):
                    await _timed(3, op)  # warm caches and code paths
                    for r in range(runs):
                        say(f"records: {kind} {name} run {r + 1}/{runs}")
                        p50, p95 = await _timed(requests, op)
                        out.setdefault(f"{name}_p50", []).append(p50)
                        out.setdefault(f"{name}_p95", []).append(p95)

                if upload_mb > 0:
                    big = work / "big.pdf"
                    _pdf(big, upload_mb * 1024 * 1024)
                    for r in range(runs):
                        say(f"records: {kind} upload {upload_mb} MB run {r + 1}/{runs}")
                        copy = work / "copy.pdf"
                        t0 = time.perf_counter()
                        subprocess.run(["cp", str(big), str(copy)], check=True)
                        subprocess.run(["sync", str(copy)], check=True)
                        cp_s = time.perf_counter() - t0
                        copy.unlink()
                        rss0 = rss_bytes(server.pid)
                        t0 = time.perf_counter()
                        await _upload(http, base, headers, case_id, big)
                        up_s = time.perf_counter() - t0
                        # Peak over the process's life; the first run's is the upload's own.
                        growth = max(0, peak_rss_bytes(server.pid) - rss0)
                        out.setdefault("upload_mb_s", []).append(upload_mb / up_s)
                        out.setdefault("cp_mb_s", []).append(upload_mb / cp_s)
                        out.setdefault("upload_peak_rss_mb", []).append(growth / 2**20)
                    big.unlink()
        finally:
            server.stop()
    finally:
        if schema:
            admin = create_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()
    return out


def report(
    results: dict[str, dict[str, list[float]]], patients: int, requests: int, upload_mb: int
) -> str:
    """Markdown tables of the figures, medians with their spread over runs."""
    rows = []
    for kind, r in results.items():
        for name, label in (
            ("case_list", "case list (20 per page)"),
            ("search", "patient search, no accents"),
            ("detail", "case detail + 10 attachments"),
        ):
            rows.append(
                [
                    kind,
                    label,
                    Spread.of(r.get(f"{name}_p50", [])).fmt(1),
                    Spread.of(r.get(f"{name}_p95", [])).fmt(1),
                ]
            )
    parts = [
        f"{patients:,} patients and {patients:,} cases; {requests} sequential requests per run:\n\n"
        + table(["database", "request", "p50 ms", "p95 ms"], rows)
    ]
    if upload_mb > 0:
        up_rows = [
            [
                kind,
                Spread.of(r.get("upload_mb_s", [])).fmt(1),
                Spread.of(r.get("cp_mb_s", [])).fmt(1),
                Spread.of(r.get("upload_peak_rss_mb", [])).fmt(1),
            ]
            for kind, r in results.items()
        ]
        parts.append(
            f"Upload of a {upload_mb} MB file (HTTP multipart, hashed, fsynced) against "
            "`cp` + `sync` on the same disk:\n\n"
            + table(["database", "upload MB/s", "cp MB/s", "server peak RSS growth MB"], up_rows)
        )
    gen_rows = [[kind, Spread.of(r.get("generate_s", [])).fmt(1)] for kind, r in results.items()]
    parts.append("Generation time:\n\n" + table(["database", "seconds"], gen_rows))
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the records benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.records_api", description=__doc__)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--upload-mb", type=int, default=50, help="0 skips the upload")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--work-dir", help="where to put data (default: a temporary directory)")
    args = parser.parse_args(argv)
    kinds = [k for k in args.databases.split(",") if k]
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="telemed-bench-", dir=args.work_dir) as tmp:
        for kind in kinds:
            try:
                results[kind] = asyncio.run(
                    one_database(
                        kind,
                        Path(tmp) / kind,
                        patients=args.patients,
                        requests=args.requests,
                        runs=args.runs,
                        upload_mb=args.upload_mb,
                    )
                )
            except OSError as exc:
                say(f"records: {kind} skipped: {exc}")
    print("## Records through the HTTP API\n")
    print(machine() + "\n")
    print(report(results, args.patients, args.requests, args.upload_mb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
