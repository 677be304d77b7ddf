"""The database going away under a running server: a clear 503 meanwhile, nothing
half-written, service again once it is back, without a restart.

PostgreSQL is reached through a TCP proxy the test cuts and restores; the shared PostgreSQL
itself is never stopped.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import factories
import pytest
from aiohttp.test_utils import TestClient, TestServer
from ci import PG_URL, require_service
from dbtools import sqlite_database
from redis.asyncio.connection import parse_url
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel
from tcpproxy import TcpProxy

from records import passwords
from records.db import create_engine, session_maker
from records.models import FacilityLevel, Patient
from records.services.auth import create_api_token
from telemed.app import create_app
from telemed.settings import Settings

PASSWORD = "Hội-chẩn-2026-an-toàn"
PATIENT = {"mrn": "BN-NGAT-1", "full_name": "Lò Văn Sáu", "sex": "male", "birth_year": 1961}


@dataclass
class Outage:
    """A real server whose PostgreSQL is behind a proxy the test controls."""

    client: TestClient  # type: ignore[type-arg]
    proxy: TcpProxy
    direct_url: str
    bearer: dict[str, str]

    async def probe(self, path: str) -> tuple[int, dict[str, object]]:
        """What the proxy's health check sees: no cookie, no session."""
        async with aiohttp.ClientSession() as http:
            async with http.get(self.client.make_url(path)) as resp:
                return resp.status, await resp.json()


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[Outage]:
    """The application on a private schema, reached through the proxy; a doctor signed in."""
    require_service(PG_URL, 5432, "PostgreSQL")
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    direct = f"{PG_URL}?search_path={schema}"
    engine = create_engine(direct)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    async with session_maker(engine)() as s:
        province = await factories.facility(s, level=FacilityLevel.provincial)
        district = await factories.facility(s, parent=province)
        doctor = await factories.user(s, facility=district, username="bs-ngat")
        doctor.password_hash = passwords.hash_password(PASSWORD)
        s.add(doctor)
        await s.commit()
        token, _ = await create_api_token(session=s, user=doctor, ttl=timedelta(hours=1))
    await engine.dispose()
    parsed = make_url(PG_URL)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    proxied = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(data_dir=tmp_path / "data", database_url=f"{proxied}?search_path={schema}")
    client: TestClient = TestClient(TestServer(create_app(settings)))  # type: ignore[type-arg]
    await client.start_server()
    try:
        resp = await client.post(
            "/api/v1/session", json={"username": "bs-ngat", "password": PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        yield Outage(client, proxy, direct, {"Authorization": f"Bearer {token}"})
    finally:
        await client.close()
        await proxy.close()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def _patients(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(Patient))).scalar_one())
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgresql_away_gives_503_then_service_resumes(outage: Outage) -> None:
    client = outage.client
    assert (await outage.probe("/readyz"))[0] == 200
    assert (await client.get("/api/v1/patients")).status == 200
    assert (await client.get("/patients")).status == 200

    await outage.proxy.cut()

    # The process is alive, but not ready, and says why.
    assert (await outage.probe("/healthz"))[0] == 200
    status, ready = await outage.probe("/readyz")
    assert status == 503
    assert str(ready["checks"]["database"]).startswith("unreachable")  # type: ignore[index]
    # The API answers JSON, the pages a page, both in Vietnamese, neither a 500.
    resp = await client.get("/api/v1/patients")
    assert resp.status == 503
    body = await resp.json()
    assert body["error"]["code"] == "unavailable"
    assert "cơ sở dữ liệu" in body["error"]["message"]
    assert resp.headers["Retry-After"]
    resp = await client.get("/patients", headers={"Accept": "text/html"})
    assert resp.status == 503
    assert resp.content_type == "text/html"
    assert "cơ sở dữ liệu" in await resp.text()
    resp = await client.post("/api/v1/patients", json=PATIENT, headers=outage.bearer)
    assert resp.status == 503

    await outage.proxy.restore()

    # Back without a restart; the write refused during the outage left nothing behind.
    assert (await outage.probe("/readyz"))[0] == 200
    assert (await client.get("/api/v1/patients")).status == 200
    assert await _patients(outage.direct_url) == 0
    resp = await client.post("/api/v1/patients", json=PATIENT, headers=outage.bearer)
    assert resp.status == 201, await resp.text()
    assert await _patients(outage.direct_url) == 1


@pytest.mark.redis
async def test_readiness_follows_redis(tmp_path: Path, redis_url: str) -> None:
    options = parse_url(redis_url)
    proxy = TcpProxy(str(options.get("host", "127.0.0.1")), int(options.get("port", 6379)))
    await proxy.start()
    url, engine = await sqlite_database(tmp_path)
    await engine.dispose()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        redis_url=f"redis://127.0.0.1:{proxy.port}/{options.get('db', 0)}",
    )
    client: TestClient = TestClient(TestServer(create_app(settings)))  # type: ignore[type-arg]
    await client.start_server()
    try:
        assert (await client.get("/readyz")).status == 200
        await proxy.cut()
        resp = await client.get("/readyz")
        assert resp.status == 503
        checks = (await resp.json())["checks"]
        assert checks["database"] == "ok"
        assert checks["redis"].startswith("unreachable")
        assert (await client.get("/healthz")).status == 200
        await proxy.restore()
        assert (await client.get("/readyz")).status == 200
    finally:
        await client.close()
        await proxy.close()
