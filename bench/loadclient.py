"""The load client shared by every relay target: joins participants, paces sends, times arrivals.

One process, uvloop when available. Frames are built once per sender (prefix + timestamp +
suffix) and arrivals are timed by finding the embedded timestamp, not by parsing JSON, so the
client spends as little as possible per message.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from .common import cpu_seconds, percentile

MARK = "bench-ts:"
# A WebSocket URL, or a coroutine that obtains one (e.g. asks the API for a join token).
Target = str | Callable[[aiohttp.ClientSession], Awaitable[str]]
# Telemed allows 30 frames/s per socket with bursts of 60; stay clearly under it.
PER_SOCKET_MAX = 25.0


def _offer_parts(to: str, size: int) -> tuple[str, str]:
    sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    sdp += "a=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n"
    body = json.dumps({"type": "offer", "to": to, "sdp": sdp + MARK + "@@TS@@;" + "a" * 900})
    pad = max(0, size - len(body))
    body = body.replace("a" * 900, "a=x-pad:" + "a" * max(0, 892 + pad))
    before, after = body.split("@@TS@@")
    return before, after


def _candidate_parts(to: str, size: int) -> tuple[str, str]:
    cand = "candidate:842163049 1 udp 1677729535 192.0.2.10 46154 typ srflx raddr 10.0.0.5 "
    cand += "rport 46154 generation 0 ufrag sYx3 network-cost 999 "
    body = json.dumps(
        {
            "type": "candidate",
            "to": to,
            "candidate": {
                "candidate": cand + MARK + "@@TS@@;" + "x" * 700,
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            },
        }
    )
    pad = max(0, size - len(body))
    body = body.replace("x" * 700, "x" * (700 + pad))
    before, after = body.split("@@TS@@")
    return before, after


@dataclass
class Participant:
    """One WebSocket client in a room."""

    url: str
    room: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    peer_id: str = ""
    peers: list[str] = field(default_factory=list)
    frames: list[tuple[str, str]] = field(default_factory=list)
    sent: int = 0
    reader: asyncio.Task[None] | None = None


@dataclass
class Counters:
    """What the readers saw."""

    received: int = 0
    errors: int = 0
    closed: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)
    latencies_ns: list[int] = field(default_factory=list)
    record_from_ns: int = 0
    record_until_ns: int = 1 << 62
    window_received: int = 0


class LoadClient:
    """Participants joined to a relay, and the paced sending of addressed frames between them."""

    def __init__(self, frame_size: int = 1024) -> None:
        self.frame_size = frame_size
        self.participants: list[Participant] = []
        self.counters = Counters()
        self._http: aiohttp.ClientSession | None = None
        self._api: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LoadClient:
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        # Join-token requests get a pool of their own: a browser opens each WebSocket on a
        # connection of its own, never on one that carried a page's request before.
        self._api = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close_all()
        for session in (self._http, self._api):
            if session is not None:
                await session.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        """The shared HTTP session."""
        assert self._http is not None
        return self._http

    async def join_one(self, target: Target, room: str) -> tuple[Participant, float]:
        """Get the URL (a join token, maybe over HTTP), connect, `join`, wait for `welcome`."""
        t0 = time.perf_counter()
        assert self._api is not None
        url = target if isinstance(target, str) else await target(self._api)
        p = Participant(url=url, room=room)
        p.ws = await self.http.ws_connect(url, max_msg_size=4 * 1024 * 1024, autoping=True)
        await p.ws.send_str('{"type": "join", "resume_token": null}')
        while True:
            msg = await asyncio.wait_for(p.ws.receive(), 30)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"join refused: {msg.type} {msg.data} {msg.extra}")
            data = json.loads(msg.data)
            if data.get("type") == "welcome":
                break
            if data.get("type") in ("error", "lobby"):
                raise RuntimeError(f"join refused: {data}")
        elapsed = time.perf_counter() - t0
        p.peer_id = data["peer_id"]
        p.peers = [peer["peer_id"] for peer in data.get("peers", [])]
        p.reader = asyncio.create_task(self._read(p))
        self.participants.append(p)
        return p, elapsed

    async def join_all(
        self, targets: Sequence[tuple[Target, str]], concurrency: int = 50
    ) -> list[float]:
        """Join every (target, room) with bounded concurrency; the join times in seconds."""
        sem = asyncio.Semaphore(concurrency)
        times: list[float] = []

        async def one(target: Target, room: str) -> None:
            async with sem:
                _, t = await self.join_one(target, room)
                times.append(t)

        # Members of one room join one after another so each sees the previous ones.
        by_room: dict[str, list[Target]] = {}
        for target, room in targets:
            by_room.setdefault(room, []).append(target)

        async def room_task(room: str, urls: list[Target]) -> None:
            for url in urls:
                await one(url, room)

        await asyncio.gather(*(room_task(r, u) for r, u in by_room.items()))
        return times

    async def _read(self, p: Participant) -> None:
        c = self.counters
        assert p.ws is not None
        async for msg in p.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data: str = msg.data
            i = data.find(MARK)
            if i >= 0:
                now = time.perf_counter_ns()
                sent_at = int(data[i + len(MARK) : data.find(";", i)])
                c.received += 1
                if c.record_from_ns <= sent_at < c.record_until_ns:
                    c.latencies_ns.append(now - sent_at)
                if c.record_from_ns <= now < c.record_until_ns:
                    c.window_received += 1
                continue
            if '"peer-joined"' in data:
                p.peers.append(json.loads(data)["peer"]["peer_id"])
            elif '"error"' in data:
                c.errors += 1
                code = json.loads(data).get("code", "?")
                c.error_codes[code] = c.error_codes.get(code, 0) + 1
        c.closed += 1

    async def wait_for_peers(self, timeout: float = 30.0) -> None:
        """Wait until every participant knows at least one other peer in its room."""
        deadline = time.monotonic() + timeout
        while any(not p.peers for p in self.participants):
            if time.monotonic() > deadline:
                raise RuntimeError("some participants never saw a peer")
            await asyncio.sleep(0.05)
        for n, p in enumerate(self.participants):
            to = p.peers[n % len(p.peers)]
            p.frames = [_offer_parts(to, self.frame_size), _candidate_parts(to, self.frame_size)]

    async def run_load(
        self,
        rate: float,
        duration: float,
        *,
        warmup: float = 1.0,
        server_pid: int | None = None,
        server_pids: Sequence[int] = (),
    ) -> dict[str, float]:
        """Offer `rate` frames/s spread over the participants for warmup+duration seconds."""
        senders = self.participants
        if not senders:
            raise RuntimeError("no participants")
        rate = min(rate, PER_SOCKET_MAX * len(senders))
        pids = list(server_pids) or ([server_pid] if server_pid else [])
        c = self.counters
        c.latencies_ns = []
        c.window_received = 0
        start = time.perf_counter()
        c.record_from_ns = time.perf_counter_ns() + int(warmup * 1e9)
        c.record_until_ns = c.record_from_ns + int(duration * 1e9)
        received0 = c.received
        errors0 = c.errors
        sent = 0
        window_sent = 0
        rr = 0
        cpu0: dict[int, float] = {}
        client0 = cpu_seconds(os.getpid())
        measuring = False
        end = start + warmup + duration
        max_batch = max(1, int(rate * 0.02))
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            if not measuring and now >= start + warmup:
                measuring = True
                cpu0 = {pid: cpu_seconds(pid) for pid in pids}
                client0 = cpu_seconds(os.getpid())
            due = min(int((now - start) * rate) - sent, max_batch)
            for _ in range(due):
                p = senders[rr]
                rr = (rr + 1) % len(senders)
                if p.ws is None or p.ws.closed:
                    continue
                before, after = p.frames[p.sent & 1]
                p.sent += 1
                await p.ws.send_str(f"{before}{time.perf_counter_ns()}{after}")
                sent += 1
                if measuring:
                    window_sent += 1
            await asyncio.sleep(0.001 if due < max_batch else 0)
        cpu = sum(cpu_seconds(pid) - cpu0.get(pid, 0.0) for pid in pids)
        client_cpu = cpu_seconds(os.getpid()) - client0
        delivered = c.window_received
        # Let in-flight frames land, then count what never arrived.
        deadline = time.perf_counter() + 3.0
        while c.received - received0 < sent and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        lat_ms = [v / 1e6 for v in c.latencies_ns]
        return {
            "offered_per_s": rate,
            "sent_per_s": window_sent / duration,
            "delivered_per_s": delivered / duration,
            "p50_ms": percentile(lat_ms, 50),
            "p99_ms": percentile(lat_ms, 99),
            "cpu_us_per_msg": cpu * 1e6 / delivered if delivered else float("nan"),
            "client_cpu_pct": client_cpu / duration * 100,
            "server_cpu_pct": cpu / duration * 100,
            "lost": float(sent - (c.received - received0)),
            "errors": float(c.errors - errors0),
        }

    async def close_all(self) -> None:
        """Close every socket and stop the readers."""
        for p in self.participants:
            if p.ws is not None and not p.ws.closed:
                await p.ws.close()
        for p in self.participants:
            if p.reader is not None:
                p.reader.cancel()
        await asyncio.gather(
            *(p.reader for p in self.participants if p.reader), return_exceptions=True
        )
        self.participants = []
