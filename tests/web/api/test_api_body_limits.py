"""Request bodies against a running server over a raw socket: huge declarations, slow senders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from apitools import Api, World

from telemed.app import create_app
from telemed.settings import Settings

TB = 1024**4


@pytest.fixture
async def slow_api(settings: Settings, world: World) -> AsyncIterator[Api]:
    """The server with a short patience for idle bodies, so the test need not wait 30 s."""
    patient = replace(settings, body_idle_seconds=1.0, body_min_bytes_per_second=1024.0)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(create_app(patient)))
    await client.start_server()
    try:
        yield Api(client, world)
    finally:
        await client.close()


async def _exchange(api: Api, head: str, body: bytes = b"", wait: float = 20.0) -> bytes:
    """Send raw request headers (and the start of a body); what the server says until it
    closes the connection, or stops talking for a while."""
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        await writer.drain()
        received = b""
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), wait)
            except TimeoutError:
                raise AssertionError(received) from None
            if not chunk:
                return received
            received += chunk
    finally:
        writer.close()


def _head(api: Api, path: str, content_type: str, length: int) -> str:
    token = api.world.tokens["doctor"]
    return (
        f"POST {path} HTTP/1.1\nHost: localhost\nAuthorization: Bearer {token}\n"
        f"Content-Type: {content_type}\nContent-Length: {length}\n"
    )


async def test_a_huge_declared_body_is_refused_before_reading(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    for path, content_type in (
        (f"/api/v1/cases/{case['id']}/attachments", "multipart/form-data; boundary=b"),
        ("/api/v1/patients", "application/json"),
    ):
        # Nothing of the body is sent: the answer must come from the headers alone, and the
        # connection must end rather than wait for a terabyte.
        answer = await _exchange(api, _head(api, path, content_type, TB), wait=10.0)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"too-large" in answer
    assert (await api.ok("GET", f"/api/v1/cases/{case['id']}/attachments"))["total"] == 0


async def test_a_body_that_stalls_is_cut_off(slow_api: Api) -> None:
    patient = await slow_api.patient()
    case = await slow_api.case(patient["id"])
    body = b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nlab\r\n--b\r\n'
    for path, content_type, start in (
        (f"/api/v1/cases/{case['id']}/attachments", "multipart/form-data; boundary=b", body),
        ("/api/v1/patients", "application/json", b'{"mrn": "BN-7", '),
    ):
        answer = await _exchange(slow_api, _head(slow_api, path, content_type, 100_000), start)
        # 408 with the reason, then the connection closes (the read above saw its end).
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"request-timeout" in answer
    assert (await slow_api.ok("GET", "/api/v1/patients"))["total"] == 1


async def test_a_body_sent_in_pieces_within_the_limits_is_read(slow_api: Api) -> None:
    """The watchdog judges the client, not a handler that reads late: pauses shorter than the
    idle limit pass."""
    server = slow_api.client.server
    data = '{"mrn": "BN-8", "full_name": "Trần Thị Chậm", "sex": "female", "birth_year": 1970}'
    raw = data.encode()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(
            _head(slow_api, "/api/v1/patients", "application/json", len(raw))
            .replace("\n", "\r\n")
            .encode()
            + b"\r\n"
        )
        for i in range(0, len(raw), 40):
            writer.write(raw[i : i + 40])
            await writer.drain()
            await asyncio.sleep(0.3)
        status = await asyncio.wait_for(reader.readline(), 20)
        assert status.startswith(b"HTTP/1.1 201"), status
    finally:
        writer.close()


async def test_an_upload_carries_a_bounded_number_of_files(api: Api) -> None:
    """Without a declared length (chunked), the number of files bounds what is read: each file
    is its own record, so the first twenty are kept and the body stops at the twenty-first."""
    patient = await api.patient()
    case = await api.case(patient["id"])
    data = aiohttp.FormData()
    data.add_field("kind", "lab")
    for i in range(21):
        data.add_field("file", b"Glucose 5.6 mmol/L\n", filename=f"kq-{i}.txt")
    url = f"/api/v1/cases/{case['id']}/attachments"
    (await api.post(url, data=data)).error(413, "too-large")
    assert (await api.ok("GET", url))["total"] == 20
