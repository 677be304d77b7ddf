"""The network-test echo: real aiortc clients get their own media back; limits hold."""

from __future__ import annotations

import asyncio
import contextlib
import gc

import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)

from signaling.media.echo import EchoBusy, EchoRejected, EchoService

pytestmark = pytest.mark.usefixtures("ice_host")


class EchoClient:
    """A browser stand-in: sends audio and video, counts what comes back."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(AudioStreamTrack())
        self.pc.addTrack(VideoStreamTrack())
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.sizes: set[tuple[int, int]] = set()
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                self.frames[track.kind] += 1
                if track.kind == "video":
                    self.sizes.add((frame.width, frame.height))

    async def offer(self) -> str:
        """A complete offer (aiortc gathers candidates before returning)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, sdp: str) -> None:
        """Apply the echo's answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def wait_media(self, video: int = 10, audio: int = 10, timeout: float = 30) -> None:
        """Wait until frames of both kinds came back."""
        async def enough() -> None:
            while self.frames["video"] < video or self.frames["audio"] < audio:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(enough(), timeout)

    async def wait_state(self, *states: str, timeout: float = 30) -> None:
        """Wait for one of the connection states."""
        async def reached() -> None:
            while self.pc.connectionState not in states:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(reached(), timeout)

    async def close(self) -> None:
        """Stop consuming and close."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


async def connect(service: EchoService) -> tuple[EchoClient, str]:
    """Offer, get the echo's answer, apply it."""
    client = EchoClient()
    answer = await service.answer(await client.offer())
    await client.accept(answer.sdp)
    return client, answer.echo_id


async def test_echo_returns_audio_and_video() -> None:
    async with EchoService(max_peers=2, max_seconds=60).running() as service:
        client, echo_id = await connect(service)
        try:
            await client.wait_media()
            assert client.sizes == {(640, 480)}
            assert service.active == 1
        finally:
            await client.close()
        assert await service.close(echo_id)
        assert service.active == 0
        assert not await service.close(echo_id)


async def test_limit_of_concurrent_echo_peers() -> None:
    async with EchoService(max_peers=2, max_seconds=60).running() as service:
        first, first_id = await connect(service)
        second, _ = await connect(service)
        third = EchoClient()
        try:
            with pytest.raises(EchoBusy):
                await service.answer(await third.offer())
            assert service.active == 2
            await service.close(first_id)
            answer = await service.answer(await third.offer())
            await third.accept(answer.sdp)
            await third.wait_media(video=3, audio=3)
        finally:
            await asyncio.gather(first.close(), second.close(), third.close())
    assert service.active == 0


async def test_echo_closed_after_time_limit() -> None:
    async with EchoService(max_peers=1, max_seconds=1.0).running() as service:
        client, _ = await connect(service)
        try:
            await client.wait_state("connected")
            # The server closes its side; the client sees the connection go.
            await client.wait_state("closed", "failed", "disconnected", timeout=60)
            assert service.active == 0
        finally:
            await client.close()


async def test_bad_offers_are_refused_and_free_their_slot() -> None:
    async with EchoService(max_peers=1).running() as service:
        with pytest.raises(EchoRejected):
            await service.answer("v=0 not sdp m=")
        with pytest.raises(EchoRejected):
            await service.answer("")
        datachannel_only = RTCPeerConnection()
        datachannel_only.createDataChannel("x")
        await datachannel_only.setLocalDescription(await datachannel_only.createOffer())
        with pytest.raises(EchoRejected):
            await service.answer(datachannel_only.localDescription.sdp)
        await datachannel_only.close()
        assert service.active == 0


def live_peer_connections() -> int:
    """RTCPeerConnection objects still reachable."""
    gc.collect()
    return sum(isinstance(o, RTCPeerConnection) for o in gc.get_objects())


async def test_no_leaked_peer_connections_after_100_cycles() -> None:
    before = live_peer_connections()
    async with EchoService(max_peers=2, max_seconds=60).running() as service:
        for _ in range(100):
            client, echo_id = await connect(service)
            await client.wait_state("connected")
            await client.close()
            await service.close(echo_id)
            del client
        assert service.active == 0
    assert live_peer_connections() <= before
