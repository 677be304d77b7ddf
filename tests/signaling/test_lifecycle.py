"""Many join/leave cycles leave nothing behind; shutdown closes sockets with GOING_AWAY."""

from __future__ import annotations

import asyncio
import dataclasses
import gc

import pytest
from sighelpers import FAST, Harness, identity, running

from signaling import CloseCode
from signaling.keys import signaling_key


@pytest.mark.slow
async def test_thousand_join_leave_cycles_leak_nothing() -> None:
    config = dataclasses.replace(FAST, grace_seconds=0.2, max_peers=20)
    async with running(config) as app:
        await cycles(app)


async def cycles(app: Harness) -> None:
    """Join and leave in all three ways, then check nothing is left."""
    stay = await app.connect("stay", identity("stay"))
    baseline = len(asyncio.all_tasks())
    for index in range(1000):
        room = f"r{index % 7}"
        client = await app.connect(room, identity(f"u{index % 13}"))
        if index % 3 == 0:
            await client.send(type="leave")
            await client.closed()
        elif index % 3 == 1:
            await client.close()
        else:
            await client.ws.close()
        await client.close()
    registry = app.registry

    async def settled() -> None:
        while set(registry.rooms) != {"stay"} or registry.local_peer_count() != 1:
            await asyncio.sleep(0.1)
    await asyncio.wait_for(settled(), 10)
    gc.collect()
    await asyncio.sleep(0.2)
    assert len(app.server.app[signaling_key].sockets) == 1
    assert len(asyncio.all_tasks()) <= baseline + 2
    assert [p["peer_id"] for p in registry.snapshot("stay")] == [stay.peer_id]
    assert not registry.bus.hub.rooms.keys() - {"stay"}


async def test_shutdown_closes_sockets_going_away() -> None:
    async with running(FAST) as app:
        a = await app.connect("r1", identity("a"))
        await app.server.close()
        assert await a.closed() == CloseCode.GOING_AWAY
