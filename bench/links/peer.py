"""A site of the mesh played by aiortc: real VP8 and Opus from the generated files, driven
by Telemed's signalling protocol (answers every offer, takes trickled candidates)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp


class AiortcSite:
    """Joins a room with a single-use token and answers the browsers' offers."""

    def __init__(self, ws_url: str, video: Path, audio: Path) -> None:
        self.ws_url = ws_url
        self.video = MediaPlayer(str(video), loop=True)
        self.audio = MediaPlayer(str(audio), loop=True)
        self.relay = MediaRelay()
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.frames: dict[str, int] = {}
        self.peer_id = ""
        self.errors: list[str] = []
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def join(self) -> None:
        """Open the socket and join; offers are answered in the background."""
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(self.ws_url, heartbeat=10)
        await self._send(type="join", resume_token=None)
        while True:
            msg = json.loads((await self._ws.receive()).data)
            if msg.get("type") == "welcome":
                self.peer_id = str(msg.get("peer_id") or msg.get("you", {}).get("peer_id", ""))
                break
            if msg.get("type") == "error":
                raise RuntimeError(f"join refused: {msg}")
        self._tasks.append(asyncio.create_task(self._loop()))

    async def _send(self, **frame: Any) -> None:
        assert self._ws is not None
        await self._ws.send_str(json.dumps(frame))

    async def _loop(self) -> None:
        assert self._ws is not None
        async for raw in self._ws:
            if raw.type != aiohttp.WSMsgType.TEXT:
                break
            msg = json.loads(raw.data)
            kind = msg.get("type")
            try:
                if kind == "offer":
                    await self._answer(msg["from"], msg["sdp"])
                elif kind == "candidate" and msg.get("candidate"):
                    await self._candidate(msg["from"], msg["candidate"])
            except Exception as exc:  # noqa: BLE001  (one bad message must not end the site)
                self.errors.append(f"{kind}: {exc!r}")

    async def _answer(self, other: str, sdp: str) -> None:
        pc = self.pcs.get(other)
        if pc is not None and pc.connectionState in ("failed", "closed"):
            # aiortc cannot restart ICE: a restart offer gets a fresh connection.
            await pc.close()
            pc = None
        if pc is None:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            self.pcs[other] = pc
            self.frames[other] = 0

            @pc.on("track")
            def on_track(track: MediaStreamTrack) -> None:
                self._tasks.append(asyncio.create_task(self._drain(other, track)))

        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        for t in pc.getTransceivers():
            if t.sender.track is None:
                source = self.audio.audio if t.kind == "audio" else self.video.video
                if source is not None:
                    t.sender.replaceTrack(self.relay.subscribe(source))
                    t.direction = "sendrecv"
        await pc.setLocalDescription(await pc.createAnswer())
        await self._send(type="answer", to=other, sdp=pc.localDescription.sdp)

    async def _candidate(self, other: str, cand: dict[str, Any]) -> None:
        pc = self.pcs.get(other)
        text = str(cand.get("candidate") or "")
        if pc is None or not text:
            return
        c = candidate_from_sdp(text.split(":", 1)[1])
        c.sdpMid = cand.get("sdpMid")
        c.sdpMLineIndex = cand.get("sdpMLineIndex")
        await pc.addIceCandidate(c)

    async def _drain(self, other: str, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                if track.kind == "video":
                    self.frames[other] += 1

    async def close(self) -> None:
        """Leave and close everything."""
        with contextlib.suppress(Exception):
            await self._send(type="leave")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(pc.close() for pc in self.pcs.values()), return_exceptions=True)
        for player in (self.video, self.audio):
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()


async def _serve(ws_url: str, video: Path, audio: Path) -> None:
    site = AiortcSite(ws_url, video, audio)
    await site.join()
    print(site.peer_id, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if site.errors:
        print("\n".join(site.errors), file=sys.stderr)
    await site.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.links.peer WS_URL VIDEO AUDIO``: one site in a process of its own,
    printing its peer id once in the room, until terminated."""
    parser = argparse.ArgumentParser(description="An aiortc site of the mesh.")
    parser.add_argument("ws_url")
    parser.add_argument("video", type=Path)
    parser.add_argument("audio", type=Path)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.ws_url, args.video, args.audio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
