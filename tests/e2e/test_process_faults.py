"""Faults with real processes: one of two `telemed serve` processes is killed with SIGKILL
during a call, during an upload, and while finalising minutes.

The call goes on: the participants of the dead process resume their places through the other
one, the others never see a leave or a join, media between the aiortc peers keeps flowing and
no ghost remains. The upload leaves no row and no file; `telemed check` finds only the dead
upload's temp file, which the restarted process sweeps away. Minutes killed while their signed
PDF is being made are final with one number (or still a draft, if the kill came first), and the
PDF is made at the first download.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from rtcpeer import RtcPeer
from sighelpers import Client
from test_two_processes import (
    PASSWORD,
    PYTHON,
    doctor_peer_offers,
    free_port,
    join,
    signed_in,
    telemed,
    wait_listening,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.usefixtures("ice_host"),
]


class Servers:
    """Two `telemed serve` processes on one SQLite data directory and one Redis."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.ports = (free_port(), free_port())
        self.procs: dict[int, subprocess.Popen[str]] = {}

    def start(self, port: int) -> None:
        """Start (or restart) the server on a port and wait until it listens."""
        out = (self.tmp_path / f"serve-{port}.log").open("a")
        proc = subprocess.Popen(
            [PYTHON, "-m", "telemed", "serve", "--port", str(port)],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        out.close()
        self.procs[port] = proc
        wait_listening(port, proc)

    def kill(self, port: int) -> None:
        """SIGKILL: no cleanup of any kind."""
        proc = self.procs[port]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def check(self) -> subprocess.CompletedProcess[str]:
        """`telemed check` on the shared data."""
        return subprocess.run(
            [PYTHON, "-m", "telemed", "check"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def stop(self) -> None:
        """Stop what still runs."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def servers(tmp_path: Path, redis_url: str) -> Iterator[Servers]:
    """Two servers with a short grace period, on the demo world."""
    env = {
        **os.environ,
        "TELEMED_DATA_DIR": str(tmp_path / "data"),
        "TELEMED_REDIS_URL": redis_url,
        "TELEMED_HOST": "127.0.0.1",
        "TELEMED_RESUME_GRACE_SECONDS": "10",
    }
    env.pop("TELEMED_DATABASE_URL", None)
    telemed(env, "db", "upgrade")
    telemed(env, "demo", "--password", PASSWORD)
    running = Servers(tmp_path, env)
    try:
        for port in running.ports:
            running.start(port)
        yield running
    finally:
        running.stop()


async def _resume(http: aiohttp.ClientSession, consultation_id: str, token: str) -> Client:
    resp = await http.post(f"/api/v1/consultations/{consultation_id}/join")
    assert resp.status == 200, await resp.text()
    grant = await resp.json()
    ws = await http.ws_connect(grant["ws_url"], params={"token": grant["token"]})
    client = Client(ws)
    await client.send(type="join", resume_token=token)
    client.welcome = await client.expect("welcome")
    return client


async def _grows(counter: dict[str, int], key: str, timeout: float = 30) -> None:
    start = counter[key]

    async def more() -> None:
        while counter[key] <= start + 10:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(more(), timeout)


async def test_a_killed_process_loses_no_one_from_the_call(servers: Servers) -> None:
    first, second = servers.ports
    async with (
        signed_in(first, "cs.timmach") as chair_http,
        signed_in(second, "bs.chonthanh") as doctor_http,
    ):
        listed = await (await chair_http.get("/api/v1/consultations?status=scheduled")).json()
        consultation_id = next(c["id"] for c in listed["items"] if c["status"] == "scheduled")
        chair = await join(chair_http, consultation_id)
        chair.welcome = await chair.expect("welcome")
        doctor = await join(doctor_http, consultation_id)
        waiting = await doctor.expect("lobby")
        await chair.expect("lobby-update", lambda f: bool(f["waiting"]))
        await chair.send(type="admit", peer_id=waiting["peer_id"])
        doctor.welcome = await doctor.expect("welcome")
        await chair.expect("peer-joined")
        peers = [RtcPeer(chair), RtcPeer(doctor)]
        try:
            await doctor_peer_offers(peers)

            servers.kill(first)
            await chair.closed()

            # The chair comes back through the other process, to the same place.
            async with signed_in(second, "cs.timmach") as chair_again:
                back = await _resume(chair_again, consultation_id, chair.welcome["resume_token"])
                assert back.welcome["peer_id"] == chair.peer_id
                assert back.welcome["resumed"] is True
                assert [p["peer_id"] for p in back.welcome["peers"]] == [doctor.peer_id]
                # The media between the two never depended on the dead process.
                await _grows(peers[1].frames, chair.peer_id)
                await back.send(type="chat", text="Tôi vẫn ở đây.")
                assert (await doctor.expect("chat"))["from"] == chair.peer_id
                # Past the grace period and the time a dead process's peers are dropped.
                await asyncio.sleep(35)
                assert "peer-left" not in doctor.types()
                assert "peer-joined" not in doctor.types()
                metrics = await (await doctor_http.get("/metrics")).text()
                assert 'telemed_participants{status="active"} 2.0' in metrics
                await back.close()
        finally:
            await asyncio.gather(*(p.close() for p in peers))
            await doctor.close()


def _multipart(boundary: str, size: int) -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nlab\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="xet-nghiem.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    body = b"%PDF-1.4\n" + os.urandom(size) + b"\n%%EOF\n"
    return head + body + f"\r\n--{boundary}--\r\n".encode()


async def test_a_process_killed_during_an_upload_leaves_nothing_half_done(
    servers: Servers,
) -> None:
    first, _ = servers.ports
    async with signed_in(first, "bs.chonthanh") as doctor_http:
        cases = (await (await doctor_http.get("/api/v1/cases")).json())["items"]
        case = next(c for c in cases if c["status"] in ("draft", "submitted"))
        before = len(
            (await (await doctor_http.get(f"/api/v1/cases/{case['id']}/attachments")).json())[
                "items"
            ]
        )
        token = doctor_http.headers["Authorization"]
    boundary = uuid.uuid4().hex
    body = _multipart(boundary, 4 * 1024 * 1024)
    tmp_dir = Path(servers.env["TELEMED_DATA_DIR"]) / "blobs" / "tmp"
    with socket.create_connection(("127.0.0.1", first)) as sock:
        sock.sendall(
            (
                f"POST /api/v1/cases/{case['id']}/attachments HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{first}\r\nAuthorization: {token}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body[: len(body) // 2]
        )
        for _ in range(200):
            if tmp_dir.is_dir() and any(tmp_dir.glob("*.part")):
                break
            await asyncio.sleep(0.05)
        assert any(tmp_dir.glob("*.part")), "the upload never started"
        servers.kill(first)

    # No row, no file in the store: only the dead upload's temp file, and check says so.
    found = servers.check()
    assert found.returncode == 1, found.stdout
    problems = [line for line in found.stdout.splitlines() if line.startswith("LỖI")]
    assert problems and all("[leftover-temp]" in line for line in problems), found.stdout
    # The restarted process sweeps it; everything is consistent.
    servers.start(first)
    clean = servers.check()
    assert clean.returncode == 0, clean.stdout
    async with signed_in(first, "bs.chonthanh") as doctor_http:
        listed = await (await doctor_http.get(f"/api/v1/cases/{case['id']}/attachments")).json()
        assert len(listed["items"]) == before


async def test_a_process_killed_while_finalising_minutes_leaves_one_whole_record(
    servers: Servers,
) -> None:
    first, second = servers.ports
    async with signed_in(first, "cs.timmach") as chair_http:
        me = (await (await chair_http.get("/api/v1/session")).json())["user"]["id"]
        listed = await (await chair_http.get("/api/v1/consultations?status=scheduled")).json()
        consultation = next(c for c in listed["items"] if c["chair_id"] == me)
        detail = await (await chair_http.get(f"/api/v1/consultations/{consultation['id']}")).json()
        case_id = detail["case_ids"][0]
        url = f"/api/v1/consultations/{consultation['id']}/minutes/{case_id}"
        draft = await (await chair_http.get(url)).json()
        answered = [{**q, "answer": "Có"} for q in draft["conclusions"]]
        saved = await chair_http.put(
            url, json={"conclusion": "Hội chứng vành cấp", "conclusions": answered}
        )
        assert saved.status == 200, await saved.text()
        # Confirming signs (one transaction), then renders, signs and stores the PDF: kill the
        # process while that runs.
        finalising = asyncio.create_task(
            chair_http.post(f"{url}/finalize", json={"password": PASSWORD})
        )
        await asyncio.sleep(0.4)
        servers.kill(first)
        with contextlib.suppress(aiohttp.ClientError):
            await finalising

    # Nothing half-written: at most a dead upload's temp file, which a restart sweeps.
    found = servers.check()
    problems = [line for line in found.stdout.splitlines() if line.startswith("LỖI")]
    assert all("[leftover-temp]" in line for line in problems), found.stdout
    servers.start(first)
    assert servers.check().returncode == 0

    async with signed_in(second, "cs.timmach") as chair_http:
        minutes = await (await chair_http.get(url)).json()
        if minutes["status"] == "draft":  # killed before the confirmation committed: sign again
            again = await chair_http.post(f"{url}/finalize", json={"password": PASSWORD})
            assert again.status == 200, await again.text()
            minutes = await again.json()
        assert minutes["status"] == "final" and minutes["number"].endswith("/BB-HC")
        # One final version with one number; its signed PDF is there, or made at the download.
        pdf = await chair_http.get(f"/consultations/{consultation['id']}/minutes/{case_id}/pdf")
        assert pdf.status == 200 and pdf.content_type == "application/pdf"
        assert (await pdf.read()).startswith(b"%PDF")
        versions = await (
            await chair_http.get(f"/api/v1/consultations/{consultation['id']}/minutes")
        ).json()
        finals = [m for m in versions["items"] if m["status"] == "final"]
        assert [m["number"] for m in finals] == [minutes["number"]]
    assert servers.check().returncode == 0
