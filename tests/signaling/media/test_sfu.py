"""SFU rooms on a real Janus: aiortc participants publish and receive through Janus via
Telemed's relay; lobby, kick, leave and end take people off Janus; mesh rooms are unchanged."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from doubles import MemoryAuthorizer, MemoryEventSink
from janustools import JanusServer, running_janus
from sfupeer import SfuPeer
from sighelpers import FAST, Harness, identity

from signaling import setup_signaling
from signaling.media import videoroom
from signaling.media.janus import JanusConnection
from signaling.media.sfu import JanusRouter, JanusSettings

pytestmark = pytest.mark.usefixtures("ice_host")

CHAIR = identity("chair", moderator=True)
LAN = identity("lan")
BINH = identity("binh")
WAITING = identity("cuong", needs_admission=True)


@pytest.fixture
async def janus(tmp_path: Path) -> AsyncIterator[JanusServer]:
    """A Janus of its own for the test."""
    async with running_janus(tmp_path / "janus") as server:
        yield server


@contextlib.asynccontextmanager
async def sfu_app(
    janus: JanusServer, **settings: int
) -> AsyncIterator[tuple[Harness, JanusRouter]]:
    """Signalling whose rooms all go through `janus`."""
    app = web.Application()
    auth, sink = MemoryAuthorizer(), MemoryEventSink()
    router = JanusRouter(
        JanusSettings(
            url=janus.url, api_secret=janus.api_secret, admin_key=janus.admin_key, **settings
        )
    )
    setup_signaling(app, config=FAST, authorizer=auth, sink=sink, sfu=router)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    harness = Harness(server, auth, sink, FAST)
    try:
        yield harness, router
    finally:
        await harness.close()
        await server.close()


async def on_janus(janus: JanusServer, router: JanusRouter, room_id: str) -> set[str]:
    """Who Janus itself has in the room's VideoRoom (empty when the room is gone)."""
    room = router._rooms.get(room_id)
    if room is None or room.created is None:
        return set()
    _, _, placed = await room.created
    connection = JanusConnection(janus.url, api_secret=janus.api_secret)
    await connection.connect()
    try:
        handle = await (await connection.create_session()).attach()
        if not await videoroom.room_exists(handle, placed.room_id):
            return set()
        return {str(p["id"]) for p in await videoroom.participants(handle, placed)}
    finally:
        await connection.close()


async def eventually_on_janus(
    janus: JanusServer, router: JanusRouter, room_id: str, expected: set[str]
) -> None:
    """Wait until Janus's view of the room is `expected`."""
    async with asyncio.timeout(15):
        while await on_janus(janus, router, room_id) != expected:
            await asyncio.sleep(0.1)


def last_offer(peer: SfuPeer) -> dict[str, Any]:
    """The last `sfu-subscribe` the peer was sent."""
    return [f for f in peer.client.frames if f["type"] == "sfu-subscribe"][-1]


async def test_everyone_receives_everyone_else_through_janus(janus: JanusServer) -> None:
    async with sfu_app(janus) as (app, router):
        chair = await app.connect("c-1", CHAIR)
        assert chair.welcome["media"] == "sfu"
        assert chair.welcome["max_peers"] == 30
        peers = [SfuPeer(chair)]
        for who in (LAN, BINH):
            client = await app.connect("c-1", who)
            assert client.welcome["media"] == "sfu"
            peers.append(SfuPeer(client))
        ids = [p.client.peer_id for p in peers]
        try:
            for peer in peers:
                await peer.wait_for([i for i in ids if i != peer.client.peer_id])
            await eventually_on_janus(janus, router, "c-1", set(ids))
            # Nobody is sent their own media.
            assert all(peer.received(peer.client.peer_id, "video") == 0 for peer in peers)

            # Binh leaves: Janus drops Binh's streams and the others get a new offer without
            # them. (Whether media then flows on is the browser test's part: aiortc stops its
            # whole bundle when the first m-line is the one removed.)
            await peers[2].client.send(type="leave")
            await peers[2].close()
            await eventually_on_janus(janus, router, "c-1", set(ids[:2]))
            async with asyncio.timeout(15):
                while not all(
                    {s["peer_id"] for s in last_offer(peer)["streams"]} == set(ids[:2]) - {own}
                    for peer, own in zip(peers[:2], ids[:2], strict=True)
                ):
                    await asyncio.sleep(0.1)
        finally:
            for peer in peers:
                await peer.close()
        # The last one out: the Janus room is destroyed.
        async with asyncio.timeout(10):
            while "c-1" in router._rooms:
                await asyncio.sleep(0.05)


async def test_lobby_kick_and_end_in_an_sfu_room(janus: JanusServer) -> None:
    async with sfu_app(janus) as (app, router):
        chair = SfuPeer(await app.connect("c-2", CHAIR))
        waiting = await app.connect("c-2", WAITING)
        await waiting.expect("lobby")
        # Nothing of a waiting peer is on Janus, and it cannot publish.
        await waiting.send(type="sfu-publish", sdp="v=0", id=3)
        refused = await waiting.expect("error")
        assert (refused["code"], refused["id"]) == ("in-lobby", 3)
        lobby = await chair.client.expect("lobby-update", lambda f: bool(f["waiting"]))
        await chair.client.send(type="admit", peer_id=lobby["waiting"][0]["peer_id"])
        waiting.welcome = await waiting.expect("welcome")
        assert waiting.welcome["media"] == "sfu"
        cuong = SfuPeer(waiting)
        lan = SfuPeer(await app.connect("c-2", LAN))
        ids = [chair.client.peer_id, cuong.client.peer_id, lan.client.peer_id]
        try:
            await chair.wait_for(ids[1:])
            await eventually_on_janus(janus, router, "c-2", set(ids))

            await chair.client.send(type="kick", peer_id=ids[1])
            assert await cuong.client.closed() == 4403
            await eventually_on_janus(janus, router, "c-2", {ids[0], ids[2]})
            await lan.wait_for([ids[0]])

            await chair.client.send(type="end")
            assert await lan.client.closed() == 4410
            async with asyncio.timeout(10):
                while "c-2" in router._rooms:
                    await asyncio.sleep(0.05)
        finally:
            for peer in (chair, cuong, lan):
                await peer.close()


async def test_sfu_room_size_is_its_own_setting(janus: JanusServer) -> None:
    async with sfu_app(janus, max_peers=2) as (app, _):
        first = await app.connect("c-3", CHAIR)
        second = await app.connect("c-3", LAN)
        assert first.welcome["max_peers"] == 2
        third = await app.connect("c-3", BINH, join=False)
        await third.send(type="join", resume_token=None)
        assert (await third.expect("error"))["code"] == "room-full"
        assert await third.closed() == 4413
        await first.close()
        await second.close()


async def test_mesh_rooms_refuse_sfu_messages() -> None:
    config = replace(FAST)
    app = web.Application()
    auth, sink = MemoryAuthorizer(), MemoryEventSink()
    setup_signaling(app, config=config, authorizer=auth, sink=sink)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    harness = Harness(server, auth, sink, config)
    try:
        client = await harness.connect("c-4", CHAIR)
        assert client.welcome["media"] == "mesh"
        assert client.welcome["max_peers"] == 6
        await client.send(type="sfu-publish", sdp="v=0", id=1)
        assert (await client.expect("error"))["code"] == "not-sfu"
        await client.send(type="sfu-candidate", pc="sideways", candidate=None, id=2)
        assert (await client.expect("error"))["code"] == "bad-message"
        await client.close()
    finally:
        await harness.close()
        await server.close()
