"""The Janus client against a real Janus: sessions, VideoRoom rooms with secrets, named errors,
and media from an aiortc publisher to an aiortc subscriber through the SFU."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from janustools import JanusServer, running_janus

from signaling.media import videoroom
from signaling.media.janus import (
    JanusConnection,
    JanusError,
    JanusPluginError,
    JanusUnavailable,
)

pytestmark = pytest.mark.usefixtures("ice_host")


@pytest.fixture
async def janus(tmp_path: Path) -> AsyncIterator[JanusServer]:
    """A Janus of its own for the test."""
    async with running_janus(tmp_path / "janus") as server:
        yield server


@contextlib.asynccontextmanager
async def connected(server: JanusServer) -> AsyncIterator[JanusConnection]:
    """A client connection to `server`, closed afterwards."""
    connection = JanusConnection(server.url, api_secret=server.api_secret)
    await connection.connect()
    try:
        yield connection
    finally:
        await connection.close()


class Receiver:
    """Counts the frames of every track an aiortc connection receives."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.frames: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._count(track)))

    async def _count(self, track: MediaStreamTrack) -> None:
        key = f"{track.kind}:{track.id}"
        self.frames[key] = 0
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                self.frames[key] += 1

    async def wait(self, kinds: tuple[str, ...], count: int = 10, timeout: float = 30) -> None:
        """Wait until each kind has a track with `count` frames."""

        async def enough() -> None:
            while not all(
                any(n >= count for k, n in self.frames.items() if k.startswith(kind))
                for kind in kinds
            ):
                await asyncio.sleep(0.05)

        async with asyncio.timeout(timeout):
            await enough()


async def test_wrong_secret_is_refused(janus: JanusServer) -> None:
    connection = JanusConnection(janus.url, api_secret="wrong")
    await connection.connect()
    try:
        with pytest.raises(JanusError) as caught:
            await connection.create_session()
        assert caught.value.code == 403  # JANUS_ERROR_UNAUTHORIZED
    finally:
        await connection.close()


async def test_unreachable_janus_is_a_named_error() -> None:
    connection = JanusConnection("ws://127.0.0.1:9/", timeout=2)
    with pytest.raises(JanusUnavailable):
        await connection.connect()


async def test_room_needs_admin_key_and_secret(janus: JanusServer) -> None:
    async with connected(janus) as connection:
        session = await connection.create_session()
        handle = await session.attach()
        with pytest.raises(JanusPluginError):
            await videoroom.create_room(handle, room_id="c-1", admin_key="wrong", publishers=4)
        room = await videoroom.create_room(
            handle, room_id="c-1", admin_key=janus.admin_key, publishers=4
        )
        assert len(room.secret) >= 24
        assert await videoroom.room_exists(handle, "c-1")
        with pytest.raises(JanusPluginError) as caught:
            await videoroom.destroy_room(handle, videoroom.VideoRoom("c-1", "not-the-secret"))
        assert caught.value.code == 433  # JANUS_VIDEOROOM_ERROR_UNAUTHORIZED
        await videoroom.destroy_room(handle, room)
        assert not await videoroom.room_exists(handle, "c-1")
        await videoroom.destroy_room(handle, room)  # already gone: fine
        await session.destroy()
        await session.destroy()


async def test_lost_connection_fails_requests_and_says_so(tmp_path: Path) -> None:
    lost = asyncio.Event()
    async with running_janus(tmp_path / "janus") as server:
        connection = JanusConnection(server.url, api_secret=server.api_secret)
        await connection.connect()
        connection.on_lost(lost.set)
        await connection.create_session()
    async with asyncio.timeout(10):
        await lost.wait()
    with pytest.raises(JanusUnavailable):
        await connection.create_session()
    await connection.close()


async def test_media_flows_from_publisher_to_subscriber(janus: JanusServer) -> None:
    async with connected(janus) as connection:
        admin = await (await connection.create_session()).attach()
        room = await videoroom.create_room(
            admin, room_id="c-media", admin_key=janus.admin_key, publishers=4
        )
        sender = await connection.create_session()
        pub_handle = await sender.attach()
        up = asyncio.Event()
        pub_handle.on_event(lambda event: up.set() if event.get("janus") == "webrtcup" else None)
        joined = await videoroom.join_publisher(pub_handle, room, feed_id="p-a", display="A")
        assert joined.feeds == []
        publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        publisher.addTransceiver(AudioStreamTrack(), direction="sendonly")
        publisher.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await publisher.setLocalDescription(await publisher.createOffer())
        answer = await videoroom.publish(pub_handle, publisher.localDescription.sdp)
        await publisher.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        async with asyncio.timeout(20):
            await up.wait()

        watcher = await connection.create_session()
        watcher_pub = await watcher.attach()
        seen = await videoroom.join_publisher(watcher_pub, room, feed_id="p-b", display="B")
        assert seen.feeds == ["p-a"]
        sub_handle = await watcher.attach()
        offer = await videoroom.join_subscriber(
            sub_handle, room, private_id=seen.private_id, feeds=seen.feeds
        )
        subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        received = Receiver(subscriber)
        assert {(s["peer_id"], s["kind"]) for s in offer.streams} == {
            ("p-a", "audio"),
            ("p-a", "video"),
        }
        await subscriber.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        await subscriber.setLocalDescription(await subscriber.createAnswer())
        await videoroom.start(sub_handle, subscriber.localDescription.sdp)
        try:
            await received.wait(("audio", "video"))
            listed = await videoroom.participants(admin, room)
            assert {p["id"] for p in listed} == {"p-a", "p-b"}
            assert any(p["id"] == "p-a" and p["publisher"] for p in listed)
            # Kicking the publisher takes it out of the room for everyone.
            await videoroom.kick(admin, room, "p-a")
            listed = await videoroom.participants(admin, room)
            assert {p["id"] for p in listed} == {"p-b"}
        finally:
            await publisher.close()
            await subscriber.close()
            await videoroom.destroy_room(admin, room)
