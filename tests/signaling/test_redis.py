"""Two apps on different ports share rooms through a real Redis, and heal after a drop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from rtcpeer import RtcPeer
from sighelpers import FAST, Harness, identity, running

from signaling import CloseCode

pytestmark = pytest.mark.redis


@contextlib.asynccontextmanager
async def two_apps(url: str, **changes: object) -> AsyncIterator[tuple[Harness, Harness]]:
    """Two apps with a private key prefix on one Redis."""
    prefix = f"test:{secrets.token_hex(6)}:"
    config = dataclasses.replace(FAST, redis_url=url, redis_prefix=prefix, **changes)
    async with running(config) as one, running(config) as two:
        yield one, two
    client = aioredis.from_url(url)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_peers_on_two_processes_meet(redis_url: str) -> None:
    async with two_apps(redis_url, max_peers=3) as (one, two):
        chair = await one.connect("r", identity("chair", moderator=True))
        b = await two.connect("r", identity("b"))
        assert [p["peer_id"] for p in b.welcome["peers"]] == [chair.peer_id]
        assert (await chair.expect("peer-joined"))["peer"]["peer_id"] == b.peer_id
        await b.send(type="offer", to=chair.peer_id, sdp="v=0 across")
        assert (await chair.expect("offer"))["from"] == b.peer_id
        await chair.send(type="chat", text="chào")
        assert (await b.expect("chat"))["text"] == "chào"
        await b.send(type="state", video=False)
        assert (await chair.expect("state"))["video"] is False

        c = await one.connect("r", identity("c"))
        full = await two.connect("r", identity("d"), join=False)
        await full.send(type="join")
        assert (await full.expect("error"))["code"] == "room-full"
        assert await full.closed() == CloseCode.ROOM_FULL

        await chair.send(type="kick", peer_id=b.peer_id)
        assert await b.closed() == CloseCode.FORBIDDEN
        assert (await c.expect("peer-left", lambda f: f["peer_id"] == b.peer_id))["reason"] \
            == "kicked"
        again = await one.raw("r", one.auth.issue("r", identity("b")))
        assert await again.closed() == CloseCode.FORBIDDEN

        guest = await two.connect("r", identity("g", needs_admission=True))
        waiting = await guest.expect("lobby")
        await chair.expect("lobby-update", lambda f: len(f["waiting"]) == 1)
        await chair.send(type="admit", peer_id=waiting["peer_id"])
        assert {p["peer_id"] for p in (await guest.expect("welcome"))["peers"]} == {
            chair.peer_id, c.peer_id}

        await chair.send(type="end")
        for client in (chair, c, guest):
            assert await client.closed() == CloseCode.ENDED
        late = await two.raw("r", two.auth.issue("r", identity("late")))
        assert await late.closed() == CloseCode.ENDED


@pytest.mark.usefixtures("ice_host")
async def test_media_across_processes(redis_url: str) -> None:
    async with two_apps(redis_url) as (one, two):
        first = RtcPeer(await one.connect("m", identity("a")))
        second = RtcPeer(await two.connect("m", identity("b")))
        try:
            await second.take_answers(1)
            await asyncio.gather(first.wait_connected([second.client.peer_id]),
                                 second.wait_connected([first.client.peer_id]))
        finally:
            await asyncio.gather(first.close(), second.close())


async def test_resync_after_redis_drop(redis_url: str) -> None:
    async with two_apps(redis_url) as (one, two):
        x = await one.connect("r", identity("x"))
        y = await two.connect("r", identity("y"))
        await x.expect("peer-joined")
        admin = aioredis.from_url(redis_url)
        try:
            name = one.registry.bus.client_name
            clients = await admin.client_list()
            ids = [c["id"] for c in clients if c.get("name") == name]
            assert ids, "the bus names its connections"
            for client_id in ids:
                await admin.client_kill_filter(_id=client_id)
        finally:
            await admin.aclose()
        sync_x = await x.expect("peers")
        assert [p["peer_id"] for p in sync_x["peers"]] == [y.peer_id]
        sync_y = await y.expect("peers")
        assert [p["peer_id"] for p in sync_y["peers"]] == [x.peer_id]
        z = await two.connect("r", identity("z"))
        await x.expect("peer-joined", lambda f: f["peer"]["peer_id"] == z.peer_id)
        await z.send(type="offer", to=x.peer_id, sdp="v=0 after")
        assert (await x.expect("offer"))["from"] == z.peer_id
        await y.send(type="leave")
        assert (await x.expect("peer-left"))["peer_id"] == y.peer_id


async def test_dead_process_leaves_no_ghosts(redis_url: str) -> None:
    async with two_apps(redis_url) as (one, two):
        x = await one.connect("r", identity("x"))
        y = await two.connect("r", identity("y"))
        await x.expect("peer-joined")
        bus = two.registry.bus
        # The process stops answering: no goodbye, its liveness key expires.
        for task in [two.registry._sweeper, *two.registry.outbox._workers]:
            task.cancel()
        bus._listener.cancel()
        await bus.redis.delete(bus._node_key(bus.node_id))
        left = await x.expect("peer-left", timeout=15)
        assert left == {"type": "peer-left", "peer_id": y.peer_id, "reason": "timeout"}


async def test_heartbeats_restore_lost_presence_in_batches(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signaling import sync

    monkeypatch.setattr(sync, "RESTORE_BATCH", 2)
    async with two_apps(redis_url) as (one, _two):
        peers = [await one.connect(f"r{i}", identity(f"u{i}")) for i in range(5)]
        bus = one.registry.bus
        keys = [bus._keys(f"r{i}")[0] for i in range(5)]
        # Presence lost behind the process's back (an evicted or flushed key).
        await bus.redis.delete(*keys)
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            stored = [await bus.redis.hkeys(key) for key in keys]
            if all(stored) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        assert [[k.decode() for k in s] for s in stored] == [[p.peer_id] for p in peers]
        assert all([await bus.redis.ttl(key) > 0 for key in keys])
