"""The application controls live rooms (end, expel, disconnect, back to the lobby), and a
moderator sends a participant to the lobby and brings them back: on one node and across two
nodes over Redis."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from rtcpeer import RtcPeer
from sighelpers import FAST, Client, Harness, identity, running

from signaling import CloseCode, PeerLeft


@contextlib.asynccontextmanager
async def nodes(redis_url: str | None) -> AsyncIterator[tuple[Harness, Harness]]:
    """Two nodes sharing a Redis bus, or one node twice (the in-process bus)."""
    if redis_url is None:
        async with running(FAST) as one:
            yield one, one
        return
    prefix = f"test:{secrets.token_hex(6)}:"
    config = dataclasses.replace(FAST, redis_url=redis_url, redis_prefix=prefix)
    async with running(config) as one, running(config) as two:
        yield one, two
    client = aioredis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def bus_url(request: pytest.FixtureRequest) -> str | None:
    """None for one node on the in-process bus; a Redis URL for two nodes."""
    if request.param == "local":
        return None
    return str(request.getfixturevalue("redis_url"))


async def test_the_application_ends_a_room_with_a_reason(bus_url: str | None) -> None:
    async with nodes(bus_url) as (one, two):
        chair = await one.connect("c1", identity("chair", moderator=True))
        guest = await two.connect("c1", identity("guest"))
        await chair.expect("peer-joined")
        await one.registry.end_room("c1", reason="cancelled")
        for client in (chair, guest):
            ended = await client.expect("ended")
            assert ended == {"type": "ended", "by": None, "reason": "cancelled"}
            assert await client.closed() == CloseCode.ENDED
        late = await two.raw("c1", two.auth.issue("c1", identity("late")))
        assert await late.closed() == CloseCode.ENDED


async def test_the_application_expels_and_disconnects_users(bus_url: str | None) -> None:
    async with nodes(bus_url) as (one, two):
        chair = await one.connect("u1", identity("chair", moderator=True))
        guest = await two.connect("u1", identity("guest"))
        other_room = await two.connect("u2", identity("guest"))
        bystander = await one.connect("u2", identity("bystander"))
        await chair.expect("peer-joined")
        await other_room.expect("peer-joined")
        # Withdrawn invitation: out of this room at once, and barred from it.
        await one.registry.expel_user("u1", "guest", reason="uninvited")
        kicked = await guest.expect("kicked")
        assert kicked["reason"] == "uninvited" and kicked["by"] is None
        assert await guest.closed() == CloseCode.FORBIDDEN
        left = await chair.expect("peer-left")
        assert left["peer_id"] == guest.peer_id and left["reason"] == "kicked"
        again = await two.raw("u1", two.auth.issue("u1", identity("guest")))
        assert await again.closed() == CloseCode.FORBIDDEN
        # A disabled account: out of every room, wherever it is connected.
        await one.registry.disconnect_user("guest", reason="disabled")
        assert (await other_room.expect("kicked"))["reason"] == "disabled"
        assert await other_room.closed() == CloseCode.FORBIDDEN
        assert (await bystander.expect("peer-left"))["peer_id"] == other_room.peer_id
        assert chair.close_code is None and bystander.close_code is None


async def lobby_round_trip(chair: Client, guest: Client, *, by_app: Harness | None) -> None:
    """Send the guest to the lobby (by the chair, or by the application) and admit them back."""
    if by_app is None:
        await chair.send(type="send-to-lobby", peer_id=guest.peer_id, id=3)
    else:
        await by_app.registry.send_to_lobby("l1", "guest")
    moved = await guest.expect("lobby")
    assert moved["reason"] == "deliberation" and moved["peer_id"] == guest.peer_id
    assert moved["by"] == (None if by_app else chair.peer_id)
    left = await chair.expect("peer-left")
    assert left == {"type": "peer-left", "peer_id": guest.peer_id, "reason": "lobby"}
    waiting = await chair.expect("lobby-update", lambda f: len(f["waiting"]) == 1)
    assert waiting["waiting"][0]["peer_id"] == guest.peer_id
    # Meanwhile the guest cannot talk to the room.
    await guest.send(type="chat", text="tôi vẫn ở đây", id=4)
    assert (await guest.expect("error", lambda f: f.get("id") == 4))["code"] == "in-lobby"
    await chair.send(type="admit", peer_id=guest.peer_id)
    back = await guest.expect("welcome")
    assert back["peer_id"] == guest.peer_id and back["resumed"] is False
    assert [p["peer_id"] for p in back["peers"]] == [chair.peer_id]
    guest.welcome = back
    joined = await chair.expect("peer-joined")
    assert joined["peer"]["peer_id"] == guest.peer_id


async def test_the_chair_sends_a_participant_to_the_lobby_and_back(bus_url: str | None) -> None:
    async with nodes(bus_url) as (one, two):
        chair = await one.connect("l1", identity("chair", moderator=True))
        guest = await two.connect("l1", identity("guest"))
        await chair.expect("peer-joined")
        await lobby_round_trip(chair, guest, by_app=None)
        await lobby_round_trip(chair, guest, by_app=one)
        # Attendance: one interval closes with "lobby" each time, one opens on return.
        sink = two.sink
        left = [e for e in await sink.wait_for(PeerLeft, 2) if isinstance(e, PeerLeft)]
        assert [e.reason for e in left] == ["lobby", "lobby"]
        # Moderators and oneself cannot be moved.
        await chair.send(type="send-to-lobby", peer_id=chair.peer_id, id=9)
        assert (await chair.expect("error", lambda f: f.get("id") == 9))["code"] == "not-movable"
        await guest.send(type="send-to-lobby", peer_id=chair.peer_id, id=10)
        assert (await guest.expect("error", lambda f: f.get("id") == 10))["code"] == "forbidden"


@pytest.mark.usefixtures("ice_host")
async def test_media_flows_again_after_the_lobby(app: Harness) -> None:
    chair_client = await app.connect("m1", identity("chair", moderator=True))
    chair = RtcPeer(chair_client)
    guest = RtcPeer(await app.connect("m1", identity("guest")))
    try:
        await guest.take_answers(1)
        await asyncio.gather(
            chair.wait_connected([guest.client.peer_id]),
            guest.wait_connected([chair_client.peer_id]),
        )
        await guest.close()
        await lobby_round_trip(chair_client, guest.client, by_app=None)
        # Back from the lobby the guest is a newcomer again: it offers, media flows anew.
        chair.pcs.clear()
        guest = RtcPeer(guest.client)
        await guest.take_answers(1)
        await asyncio.gather(
            chair.wait_connected([guest.client.peer_id]),
            guest.wait_connected([chair_client.peer_id]),
        )
    finally:
        await asyncio.gather(chair.close(), guest.close())
