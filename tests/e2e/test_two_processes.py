"""Two `telemed serve` processes share a room over Redis: aiortc peers meet across them.

Everything is real: the command line migrates and seeds, two servers share the database and a
Redis, the peers sign in with bearer tokens, ask the API for join tokens and exchange media.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rtcpeer import RtcPeer
from sighelpers import Client

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.usefixtures("ice_host"),
]

PASSWORD = "Hoichan-hai-tien-trinh-2026"
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def telemed(env: dict[str, str], *args: str) -> str:
    """Run one `telemed` command to completion and return what it printed."""
    done = subprocess.run(
        [PYTHON, "-m", "telemed", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_listening(port: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until the server accepts connections (or fail with its output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server on port {port} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise AssertionError(f"server on port {port} did not start")


@pytest.fixture
def servers(tmp_path: Path, redis_url: str) -> Iterator[tuple[int, int]]:
    """Two servers on one data directory (SQLite) and one Redis."""
    env = {
        **os.environ,
        "TELEMED_DATA_DIR": str(tmp_path / "data"),
        "TELEMED_REDIS_URL": redis_url,
        "TELEMED_HOST": "127.0.0.1",
    }
    env.pop("TELEMED_DATABASE_URL", None)
    telemed(env, "db", "upgrade")
    telemed(env, "demo", "--password", PASSWORD)
    ports = (free_port(), free_port())
    procs: list[subprocess.Popen[str]] = []
    try:
        for port in ports:
            # One after the other: the first start writes the shared secret key.
            # Output to files: a full pipe would block a chatty server.
            out = (tmp_path / f"serve-{port}.log").open("w")
            proc = subprocess.Popen(
                [PYTHON, "-m", "telemed", "serve", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
            out.close()
            procs.append(proc)
            wait_listening(port, proc)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.asynccontextmanager
async def signed_in(port: int, username: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client of one server carrying a bearer token of `username`."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(base) as anonymous:
        resp = await anonymous.post(
            "/api/v1/tokens", json={"username": username, "password": PASSWORD}
        )
        assert resp.status == 201, await resp.text()
        token = (await resp.json())["token"]
    async with aiohttp.ClientSession(base, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


async def join(client: aiohttp.ClientSession, consultation_id: str) -> Client:
    """Ask the API for a join token, open the room's WebSocket and send `join`."""
    resp = await client.post(f"/api/v1/consultations/{consultation_id}/join")
    assert resp.status == 200, await resp.text()
    grant: dict[str, Any] = await resp.json()
    ws = await client.ws_connect(grant["ws_url"], params={"token": grant["token"]})
    peer = Client(ws)
    await peer.send(type="join")
    return peer


async def test_peers_on_two_servers_exchange_media(servers: tuple[int, int]) -> None:
    first, second = servers
    async with (
        signed_in(first, "cs.timmach") as chair_http,
        signed_in(second, "bs.chonthanh") as doctor_http,
    ):
        listed = await (await chair_http.get("/api/v1/consultations?status=scheduled")).json()
        scheduled = [c for c in listed["items"] if c["status"] == "scheduled"]
        assert scheduled, listed
        consultation_id = scheduled[0]["id"]

        chair = await join(chair_http, consultation_id)
        chair.welcome = await chair.expect("welcome")
        doctor = await join(doctor_http, consultation_id)
        # The demo session has a lobby: the chair on one server admits the doctor on the other.
        waiting = await doctor.expect("lobby")
        update = await chair.expect("lobby-update", lambda f: bool(f["waiting"]))
        assert [w["peer_id"] for w in update["waiting"]] == [waiting["peer_id"]]
        await chair.send(type="admit", peer_id=waiting["peer_id"])
        doctor.welcome = await doctor.expect("welcome")
        assert doctor.peer_id == waiting["peer_id"]
        assert chair.welcome["room_id"] == doctor.welcome["room_id"]
        assert [p["peer_id"] for p in doctor.welcome["peers"]] == [chair.peer_id]
        joined = await chair.expect("peer-joined")
        assert joined["peer"]["peer_id"] == doctor.peer_id

        peers = [RtcPeer(chair), RtcPeer(doctor)]
        try:
            await doctor_peer_offers(peers)
            await doctor.send(type="chat", text="Chào anh, em trình bệnh án.")
            chat = await chair.expect("chat")
            assert chat["from"] == doctor.peer_id
        finally:
            await asyncio.gather(*(p.close() for p in peers))
            await chair.close()
            await doctor.close()

        # The chat went to the shared database through the doctor's server; the chair's
        # server reads it back.
        # Events reach the database from a queue: give it a moment.
        url = f"/api/v1/consultations/{consultation_id}/chat"
        texts: list[str] = []
        for _ in range(100):
            texts = [m["text"] for m in (await (await chair_http.get(url)).json())["items"]]
            if texts:
                break
            await asyncio.sleep(0.1)
        assert texts == ["Chào anh, em trình bệnh án."]


async def doctor_peer_offers(peers: list[RtcPeer]) -> None:
    """The newcomer offered to the chair; wait for the data channel and video both ways."""
    chair, doctor = peers
    await doctor.take_answers(1)
    await asyncio.gather(
        chair.wait_connected([doctor.client.peer_id], timeout=60),
        doctor.wait_connected([chair.client.peer_id], timeout=60),
    )
    doctor.channels[chair.client.peer_id].send("xin chào")

    async def delivered() -> None:
        while not chair.messages.get(doctor.client.peer_id):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(delivered(), 20)
    assert chair.messages[doctor.client.peer_id] == ["xin chào"]
