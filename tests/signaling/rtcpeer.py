"""Real aiortc media for the tests: a participant driven by the signalling protocol (mesh,
newcomer offers), pictures of changing sizes, and a sender that loses a packet for good."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import av
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import is_rtcp
from sighelpers import Client


class RtcPeer:
    """Offers to every peer in `welcome`, answers everyone else; counts frames and messages."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.channels: dict[str, RTCDataChannel] = {}
        self.messages: dict[str, list[str]] = {}
        self.frames: dict[str, int] = {}
        self.opened: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop = asyncio.create_task(self._run())

    def _pc(self, other: str) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(VideoStreamTrack())
        self.pcs[other] = pc
        self.opened[other] = asyncio.Event()
        self.messages[other] = []
        self.frames[other] = 0

        @pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            self._bind(other, channel)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._consume(other, track)))

        return pc

    def _bind(self, other: str, channel: RTCDataChannel) -> None:
        self.channels[other] = channel

        @channel.on("message")
        def on_message(message: str) -> None:
            self.messages[other].append(message)

        if channel.readyState == "open":
            self.opened[other].set()
        channel.on("open", self.opened[other].set)

    async def _consume(self, other: str, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                self.frames[other] += 1

    async def _offer(self, other: str) -> None:
        pc = self._pc(other)
        self._bind(other, pc.createDataChannel("chat"))
        await pc.setLocalDescription(await pc.createOffer())
        await self.client.send(type="offer", to=other, sdp=pc.localDescription.sdp)

    async def _run(self) -> None:
        for peer in self.client.welcome["peers"]:
            await self._offer(peer["peer_id"])
        while True:
            frame = await self.client.expect("offer", timeout=3600)
            other = frame["from"]
            pc = self._pc(other)
            await pc.setRemoteDescription(RTCSessionDescription(frame["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await self.client.send(type="answer", to=other, sdp=pc.localDescription.sdp)

    async def take_answers(self, count: int) -> None:
        """Apply the answers to our offers."""
        for _ in range(count):
            frame = await self.client.expect("answer")
            await self.pcs[frame["from"]].setRemoteDescription(
                RTCSessionDescription(frame["sdp"], "answer"))

    async def wait_connected(self, others: list[str], timeout: float = 30) -> None:
        """Wait for open data channels and at least one video frame from each peer."""
        async def one(other: str) -> None:
            while other not in self.opened:
                await asyncio.sleep(0.05)
            await self.opened[other].wait()
            while self.frames[other] < 1:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*(one(o) for o in others)), timeout)

    async def close(self) -> None:
        """Close every peer connection."""
        self._loop.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(self._loop, *self._tasks, return_exceptions=True)
        await asyncio.gather(*(pc.close() for pc in self.pcs.values()))


def lose_one_packet(sender: RTCRtpSender, after: int) -> list[int]:
    """Drop the sender's packet number `after` and refuse every retransmission (no NACK help)."""
    transport = sender.transport
    send = transport._send_rtp
    ssrc = sender._ssrc
    sent: list[int] = [0]

    async def send_rtp(data: bytes) -> None:
        if not is_rtcp(data) and int.from_bytes(data[8:12], "big") == ssrc:
            sent[0] += 1
            if sent[0] == after:
                return
        await send(data)

    async def never(sequence_number: int) -> None:
        return None

    transport._send_rtp = send_rtp  # type: ignore[method-assign]
    sender._retransmit = never  # type: ignore[method-assign]
    return sent


class SizedVideo(VideoStreamTrack):
    """Blank pictures of changing sizes, as a browser sends while it adapts its resolution."""

    def __init__(self, sizes: list[tuple[int, int]], frames_each: int) -> None:
        super().__init__()
        self.sizes = sizes
        self.frames_each = frames_each
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        """The next picture, in the size of the current step."""
        pts, time_base = await self.next_timestamp()
        width, height = self.sizes[min(self.sent // self.frames_each, len(self.sizes) - 1)]
        self.sent += 1
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts, frame.time_base = pts, time_base
        return frame
