"""The activity dashboard at scale: every page of it through HTTP, on N cases each in a
consultation (ended, cancelled, scheduled; a share of emergencies, minutes and attendance).

Generates the patients and cases (``bench.records_gen``), adds a consultation per case with
its history, starts ``telemed serve`` and, as the network's admin with a bearer token, times the
dashboard page (12 months), the page filtered by a specialty, one chart, the CSV export and the
list behind a figure.

Quick: ``python -m bench.dashboard``. Full: ``--patients 1000000``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from sqlalchemy import text

from records.actor import Actor
from records.db import create_engine, session_maker
from records.models import (
    Attendance,
    Case,
    Consultation,
    ConsultationCase,
    Minutes,
    Role,
    UserCreate,
)
from records.services import auth, users

from .common import Server, Spread, free_port, machine, percentile, python_env, say, table
from .records_gen import generate

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
BATCH = 5000
PAGES = (
    ("page, 12 months", "/dashboard", {}),
    ("page, one specialty", "/dashboard", {"specialty": "Tim mạch"}),
    ("chart (SVG)", "/dashboard/charts/months.svg", {}),
    ("CSV export", "/dashboard/activity.csv", {}),
    ("list behind a figure", "/dashboard/list", {"figure": "held"}),
)


async def add_consultations(url: str, host_id: uuid.UUID, *, seed: int = 7) -> int:
    """A consultation for every case, with times, outcome, minutes and attendance."""
    rng = random.Random(seed)
    engine = create_engine(url)
    tables: dict[str, Any] = {
        m.__name__: m.__table__  # type: ignore[attr-defined]
        for m in (Consultation, ConsultationCase, Minutes, Attendance)
    }
    made = 0
    try:
        async with engine.connect() as conn:
            cases = (
                await conn.execute(
                    sa.select(
                        Case.id,  # type: ignore[call-overload]
                        Case.facility_id,
                        Case.author_id,
                        Case.created_at,
                    )
                )
            ).all()
        for start in range(0, len(cases), BATCH):
            rows: dict[str, list[dict[str, Any]]] = {k: [] for k in tables}
            for case_id, facility_id, author_id, created in cases[start : start + BATCH]:
                created_at = created
                cid = uuid.uuid4()
                roll = rng.random()
                status = "ended" if roll < 0.75 else "cancelled" if roll < 0.87 else "scheduled"
                begin = created_at + timedelta(hours=rng.uniform(0.5, 120))
                row = {
                    "id": cid,
                    "title": "Hội chẩn",
                    "note": "",
                    "requesting_facility_id": facility_id,
                    "host_facility_id": host_id,
                    "requested_by": author_id,
                    "status": status,
                    "requires_admission": True,
                    "room_id": secrets.token_urlsafe(12),
                    "created_at": created_at,
                    "scheduled_at": created_at + timedelta(minutes=rng.uniform(5, 600)),
                    "scheduled_start": begin,
                    "scheduled_end": begin + timedelta(hours=1),
                }
                rows["Consultation"].append(row)
                rows["ConsultationCase"].append({"consultation_id": cid, "case_id": case_id})
                if status == "ended":
                    end = begin + timedelta(minutes=45)
                    rows["Minutes"].append(
                        {
                            "id": uuid.uuid4(),
                            "consultation_id": cid,
                            "case_id": case_id,
                            "attendees": [],
                            "summary": "",
                            "findings": "",
                            "conclusion": "",
                            "treatment_plan": "",
                            "status": "final",
                            "finalized_at": end + timedelta(hours=rng.uniform(0.2, 48)),
                            "created_at": end,
                        }
                    )
                    rows["Attendance"].append(
                        {
                            "id": uuid.uuid4(),
                            "consultation_id": cid,
                            "user_id": author_id,
                            "peer_id": uuid.uuid4().hex[:16],
                            "joined_at": begin,
                            "left_at": end,
                        }
                    )
            async with engine.begin() as conn:
                for name in ("Consultation", "ConsultationCase", "Minutes", "Attendance"):
                    if rows[name]:
                        await conn.execute(sa.insert(tables[name]), rows[name])
            made += len(rows["Consultation"])
            if made % (BATCH * 20) == 0 or made == len(cases):
                say(f"dashboard: {made:,} consultations")
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(sa.text("ANALYZE"))
    finally:
        await engine.dispose()
    return made


async def _admin_token(url: str, facility_id: uuid.UUID) -> str:
    engine = create_engine(url)
    try:
        async with session_maker(engine)() as session:
            admin = await users.create_user(
                session=session,
                actor=Actor.system("bench"),
                data=UserCreate(
                    username="bench.admin",
                    full_name="Quản trị đo hiệu năng",
                    role=Role.admin,
                    facility_id=facility_id,
                ),
            )
            raw, _ = await auth.create_api_token(
                session=session, user=admin, ttl=timedelta(hours=6), actor=Actor.system("bench")
            )
            return raw
    finally:
        await engine.dispose()


async def one_database(
    kind: str, work: Path, *, patients: int, requests: int, runs: int
) -> dict[str, list[float]]:
    """Generate, serve and time the dashboard on one database."""
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
        say(f"dashboard: generating {patients:,} cases on {kind} …")
        t0 = time.perf_counter()
        gen = await generate(url, patients)
        engine = create_engine(url)
        async with engine.connect() as conn:
            host_id = (
                await conn.execute(sa.text("SELECT id FROM facility WHERE code = 'BVDK-BP'"))
            ).scalar_one()
        await engine.dispose()
        host = uuid.UUID(str(host_id))
        out["consultations"] = [float(await add_consultations(url, host))]
        out["generate_s"] = [time.perf_counter() - t0]
        token = await _admin_token(url, gen.facility_ids[0])
        port = free_port()
        env = python_env(TELEMED_DATA_DIR=str(data_dir), TELEMED_PORT=str(port))
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
                for label, path, params in PAGES:
                    times: list[float] = []
                    for i in range(runs * requests + 2):
                        t0 = time.perf_counter()
                        async with http.get(base + path, params=params, headers=headers) as r:
                            await r.read()
                            if r.status != 200:
                                raise RuntimeError(f"{path}: {r.status}")
                        if i >= 2:  # the first two warm the caches
                            times.append((time.perf_counter() - t0) * 1000)
                    for r in range(runs):
                        chunk = times[r * requests : (r + 1) * requests]
                        out.setdefault(f"{label}|p50", []).append(percentile(chunk, 50))
                        out.setdefault(f"{label}|p95", []).append(percentile(chunk, 95))
                    say(f"dashboard: {kind} {label}: p50 {percentile(times, 50):.0f} ms")
        finally:
            server.stop()
    finally:
        if schema:
            admin = create_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()
    return out


def report(results: dict[str, dict[str, list[float]]], patients: int, requests: int) -> str:
    """Markdown table of the pages' times, medians with their spread over runs."""
    rows = []
    for kind, r in results.items():
        for label, _, _ in PAGES:
            rows.append(
                [
                    kind,
                    label,
                    Spread.of(r.get(f"{label}|p50", [])).fmt(0),
                    Spread.of(r.get(f"{label}|p95", [])).fmt(0),
                ]
            )
    gen = [
        [kind, f"{r['consultations'][0]:,.0f}", Spread.of(r["generate_s"]).fmt(0)]
        for kind, r in results.items()
    ]
    return (
        f"{patients:,} cases, each in a consultation; {requests} sequential requests per run, "
        "as the network's admin:\n\n"
        + table(["database", "page", "p50 ms", "p95 ms"], rows)
        + "\n\nGeneration:\n\n"
        + table(["database", "consultations", "seconds"], gen)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the dashboard benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--work-dir", help="where to put data (default: a temporary directory)")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="telemed-bench-", dir=args.work_dir) as tmp:
        for kind in [k for k in args.databases.split(",") if k]:
            try:
                results[kind] = asyncio.run(
                    one_database(
                        kind,
                        Path(tmp) / kind,
                        patients=args.patients,
                        requests=args.requests,
                        runs=args.runs,
                    )
                )
            except OSError as exc:
                say(f"dashboard: {kind} skipped: {exc}")
    print("## Activity dashboard\n")
    print(machine() + "\n")
    print(report(results, args.patients, args.requests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
