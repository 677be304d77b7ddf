"""The JSON API fuzzed from its own OpenAPI document: no generated request gets a 5xx.

A real server (the application factory, a SQLite file, a TCP port) runs on a thread of its own;
schemathesis generates a bounded number of requests per operation from
`/api/v1/openapi.json` and sends them as a signed-in district doctor.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from apitools import build_world
from hypothesis import HealthCheck, given, settings
from sqlmodel import SQLModel

import records.models  # noqa: F401  (registers every table)
from records.db import create_engine, session_maker
from telemed.app import create_app
from telemed.settings import Settings

EXAMPLES_PER_OPERATION = 8


class Running:
    """A server on a thread of its own, and the doctor's bearer token."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.base = ""
        self.token = ""
        self.runner: web.AppRunner | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        url = f"sqlite+aiosqlite:///{self.tmp / 'fuzz.db'}"
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
        async with session_maker(engine)() as s:
            world = await build_world(s)
        await engine.dispose()
        self.token = world.tokens["doctor"]
        app = create_app(
            Settings(
                data_dir=self.tmp / "data",
                database_url=url,
                secret_key="fuzz-secret-0123456789abcdef0123",
            )
        )
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        """Shut the server down and end its thread."""
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One server for every operation of the module."""
    running = Running(tmp_path_factory.mktemp("fuzz"))
    running.thread.start()
    assert running.ready.wait(120), "the fuzzed server did not start"
    try:
        yield running
    finally:
        running.stop()


def _fuzz(operation: Any, server: Running, failures: list[str], seen: set[int]) -> None:
    """Send the operation's generated requests; note every 5xx."""

    @given(operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def send(case: Any) -> None:
        response = case.call(
            base_url=server.base, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
        )
        seen.add(response.status_code // 100)
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.200}"
                f" -> {response.status_code} {response.text[:200]}"
            )

    send()


def test_no_generated_request_fails_the_server(server: Running) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base}/api/v1/openapi.json")
    failures: list[str] = []
    seen: set[int] = set()
    operations = 0
    for result in schema.get_all_operations():
        _fuzz(result.ok(), server, failures, seen)
        operations += 1
    assert operations >= 40, operations
    # Signed in and sending real requests: some succeed, some are refused as bad input.
    assert {2, 4} <= seen, seen
    assert not failures, "\n".join(failures)
