"""Call setup: two aiortc peers joining a room through the real server, against a direct pair.

Times, per call, from the newcomer's ``join`` to the data channel being open on both sides and
to the first decoded video frame at the peer already present; the floor is the same two peers
exchanging their descriptions directly in one process. Host candidates on loopback only.

Quick: ``python -m bench.call_setup``; more calls: ``--calls 20 --runs 3``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamTrack

from .common import Server, Spread, free_port, machine, python_env, say, table
from .world import build_world, join_tokens

Exchange = Callable[[RTCSessionDescription], Awaitable[RTCSessionDescription]]


class Call:
    """Two peer connections: the newcomer offers with a data channel and a video track."""

    def __init__(self) -> None:
        self.caller = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.callee = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.caller.addTrack(VideoStreamTrack())
        self.callee.addTrack(VideoStreamTrack())
        self.channel_open = asyncio.Event()
        self.remote_channel_open = asyncio.Event()
        self.first_frame = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        channel = self.caller.createDataChannel("chat")
        channel.on("open", self.channel_open.set)

        @self.callee.on("datachannel")
        def on_channel(ch: RTCDataChannel) -> None:
            if ch.readyState == "open":
                self.remote_channel_open.set()
            ch.on("open", self.remote_channel_open.set)

        @self.callee.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._first(track)))

    async def _first(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            await track.recv()
            self.first_frame.set()

    async def answer(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """The present peer's side: accept the offer, return the answer."""
        await self.callee.setRemoteDescription(offer)
        await self.callee.setLocalDescription(await self.callee.createAnswer())
        return self.callee.localDescription

    async def connect(self, exchange: Exchange) -> None:
        """Offer, get the answer through `exchange`, apply it."""
        await self.caller.setLocalDescription(await self.caller.createOffer())
        answer = await exchange(self.caller.localDescription)
        await self.caller.setRemoteDescription(answer)

    async def wait(self, t0: float, timeout: float = 30.0) -> tuple[float, float]:
        """Seconds from t0 to both channel ends open, and to the first video frame."""

        async def at(*events: asyncio.Event) -> float:
            for e in events:
                await e.wait()
            return time.perf_counter() - t0

        channel, frame = await asyncio.wait_for(
            asyncio.gather(at(self.channel_open, self.remote_channel_open), at(self.first_frame)),
            timeout,
        )
        return channel, frame

    async def close(self) -> None:
        """Close both ends."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(self.caller.close(), self.callee.close())


async def direct_call() -> tuple[float, float]:
    """The floor: both peers in one process, descriptions handed over directly."""
    call = Call()
    t0 = time.perf_counter()
    try:
        await call.connect(call.answer)
        return await call.wait(t0)
    finally:
        await call.close()


async def _expect(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, object]:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 30)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"socket closed while waiting for {kind}: {msg.data}")
        data: dict[str, object] = json.loads(msg.data)
        if data.get("type") == kind:
            return data
        if data.get("type") == "error":
            raise RuntimeError(f"server error: {data}")


async def server_call(
    http: aiohttp.ClientSession, port: int, room_id: str, tokens: tuple[str, str]
) -> tuple[float, float]:
    """Both peers through `telemed serve`: the present one waits, the newcomer joins and offers."""
    base = f"ws://127.0.0.1:{port}/ws/rooms/{room_id}?token="
    present = await http.ws_connect(base + tokens[0])
    newcomer = await http.ws_connect(base + tokens[1])
    call = Call()
    try:
        await present.send_str(json.dumps({"type": "join", "resume_token": None}))
        await _expect(present, "welcome")

        async def answer_loop() -> None:
            offer = await _expect(present, "offer")
            answer = await call.answer(RTCSessionDescription(str(offer["sdp"]), "offer"))
            await present.send_str(
                json.dumps({"type": "answer", "to": offer["from"], "sdp": answer.sdp})
            )

        answering = asyncio.create_task(answer_loop())
        t0 = time.perf_counter()
        await newcomer.send_str(json.dumps({"type": "join", "resume_token": None}))
        welcome = await _expect(newcomer, "welcome")
        peers = welcome["peers"]
        assert isinstance(peers, list) and peers
        to = peers[0]["peer_id"]

        async def exchange(offer: RTCSessionDescription) -> RTCSessionDescription:
            await newcomer.send_str(json.dumps({"type": "offer", "to": to, "sdp": offer.sdp}))
            reply = await _expect(newcomer, "answer")
            return RTCSessionDescription(str(reply["sdp"]), "answer")

        await call.connect(exchange)
        result = await call.wait(t0)
        await answering
        return result
    finally:
        await call.close()
        for ws in (newcomer, present):
            with contextlib.suppress(Exception):
                await ws.send_str('{"type": "leave"}')
            await ws.close()


async def bench(calls: int, runs: int) -> dict[str, list[tuple[float, float]]]:
    """`runs` series of `calls` calls each, direct and through the server: medians per run."""
    out: dict[str, list[tuple[float, float]]] = {"direct": [], "telemed": []}
    with tempfile.TemporaryDirectory(prefix="telemed-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        world = await build_world(data_dir, 2, room_min=2, room_max=2)
        room = world.rooms[0]
        port = free_port()
        server = Server(
            [sys.executable, "-m", "telemed", "serve"],
            port,
            python_env(TELEMED_DATA_DIR=str(data_dir), TELEMED_PORT=str(port)),
            "/api/v1/openapi.json",
        )
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                for r in range(runs):
                    say(f"call setup: run {r + 1}/{runs}")
                    direct = [await direct_call() for _ in range(calls)]
                    through = []
                    for _ in range(calls):
                        toks: dict[uuid.UUID, str] = await join_tokens(world)
                        pair = (toks[room.user_ids[0]], toks[room.user_ids[1]])
                        through.append(await server_call(http, port, room.room_id, pair))
                    for name, series in (("direct", direct), ("telemed", through)):
                        out[name].append(
                            (
                                statistics.median(c for c, _ in series),
                                statistics.median(f for _, f in series),
                            )
                        )
        finally:
            server.stop()
    return out


def report(results: dict[str, list[tuple[float, float]]], calls: int) -> str:
    """A Markdown table of medians (ms) with their spread over runs."""
    runs = len(results["direct"])
    rows = []
    for name, per_run in results.items():
        rows.append(
            [
                name,
                Spread.of([c * 1000 for c, _ in per_run]).fmt(1),
                Spread.of([f * 1000 for _, f in per_run]).fmt(1),
            ]
        )
    return f"Median of {calls} calls per run; median (min–max) over {runs} runs:\n\n" + table(
        ["path", "join → data channel open, ms", "join → first video frame, ms"], rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the call setup benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.call_setup", description=__doc__)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results = asyncio.run(bench(args.calls, args.runs))
    print("## Call setup\n")
    print(machine() + "\n")
    print(report(results, args.calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
