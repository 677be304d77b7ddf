"""An aiortc participant of an SFU room, driven by Telemed's signalling: it publishes on one
connection and receives everyone else on another, counting frames per sending peer."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any

from aiortc import (
    AudioStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamTrack
from sighelpers import Client

from signaling.media.rtp_recovery import _BUFFER_ATTRIBUTE, GapSkippingJitterBuffer


class SfuPeer:
    """Publishes audio and video through the server's relay; counts what it receives."""

    def __init__(self, client: Client, *, video: MediaStreamTrack | None = None) -> None:
        self.client = client
        self.publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.publisher.addTransceiver(AudioStreamTrack(), direction="sendonly")
        self.publisher.addTransceiver(video or VideoStreamTrack(), direction="sendonly")
        self.subscriber: RTCPeerConnection | None = None
        self.streams: dict[str, dict[str, str]] = {}
        # (peer_id, kind) -> frames received
        self.frames: dict[tuple[str, str], int] = defaultdict(int)
        self.offers = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop = asyncio.create_task(self._run())
        self._tasks.append(asyncio.create_task(self._keyframes()))

    async def _keyframes(self) -> None:
        # Janus's RTCP feedback to an aiortc publisher is sometimes never sent (libnice logs
        # "only sent -1 bytes" for the publisher's connection), so its requests for a
        # keyframe are lost and a late subscriber would wait for one forever; browsers
        # answer them. This stand-in sends one every second instead (a private call of
        # aiortc 1.16, pinned in pyproject.toml).
        while True:
            await asyncio.sleep(1)
            for sender in self.publisher.getSenders():
                if sender.kind == "video":
                    sender._send_keyframe()

    async def _run(self) -> None:
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        await self.client.send(type="sfu-publish", sdp=self.publisher.localDescription.sdp)
        answer = await self.client.expect("sfu-published", timeout=30)
        await self.publisher.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        while True:
            offer = await self.client.expect("sfu-subscribe", timeout=3600)
            await self._subscribe(offer)

    async def _subscribe(self, offer: dict[str, Any]) -> None:
        self.offers += 1
        for stream in offer["streams"]:
            self.streams[stream["mid"]] = stream
        if self.subscriber is None:
            pc = self.subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))

            @pc.on("track")
            def on_track(track: MediaStreamTrack) -> None:
                mid = next((t.mid for t in pc.getTransceivers() if t.receiver.track is track), None)
                self._tasks.append(asyncio.create_task(self._count(mid, track)))

        await self.subscriber.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        # As the server's own receivers do: a packet lost while the connection starts would
        # otherwise freeze aiortc's picture for hundreds of packets (see rtp_recovery).
        for transceiver in self.subscriber.getTransceivers():
            receiver = transceiver.receiver
            if transceiver.kind == "video" and not isinstance(
                getattr(receiver, _BUFFER_ATTRIBUTE, None), GapSkippingJitterBuffer
            ):
                setattr(receiver, _BUFFER_ATTRIBUTE, GapSkippingJitterBuffer())
        await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
        await self.client.send(type="sfu-subscribed", sdp=self.subscriber.localDescription.sdp)

    async def _count(self, mid: str | None, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                stream = self.streams.get(mid or "")
                if stream is not None:
                    self.frames[(stream["peer_id"], track.kind)] += 1

    def received(self, peer_id: str, kind: str) -> int:
        """Frames received so far from `peer_id`'s `kind` track."""
        return self.frames[(peer_id, kind)]

    async def wait_for(
        self,
        peers: list[str],
        kinds: tuple[str, ...] = ("audio", "video"),
        count: int = 5,
        timeout: float = 60,
    ) -> None:
        """Wait until `count` new frames of each kind came from each of `peers`."""
        start = {(p, k): self.frames[(p, k)] for p in peers for k in kinds}

        async def enough() -> None:
            while any(self.frames[key] - n < count for key, n in start.items()):
                if self._loop.done():
                    self._loop.result()
                await asyncio.sleep(0.05)

        try:
            async with asyncio.timeout(timeout):
                await enough()
        except TimeoutError:
            raise AssertionError(
                f"{self.client.peer_id} waited for {peers}: received {dict(self.frames)}, "
                f"streams {self.streams}, frames {self.client.types()}"
            ) from None

    async def close(self) -> None:
        """Close both connections and the client."""
        self._loop.cancel()
        for task in self._tasks:
            task.cancel()
        await self.publisher.close()
        if self.subscriber is not None:
            await self.subscriber.close()
        await self.client.close()
