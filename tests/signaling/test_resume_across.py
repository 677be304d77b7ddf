"""A participant resumes its place through another process: when its process dies, and when
the proxy simply sends it elsewhere. The others see no one leave or join."""

from __future__ import annotations

import asyncio

import pytest
from sighelpers import identity
from test_redis import two_apps

pytestmark = pytest.mark.redis


async def test_resume_on_another_process_after_its_process_died(redis_url: str) -> None:
    async with two_apps(redis_url) as (one, two):
        x = await one.connect("r", identity("x"))
        y = await two.connect("r", identity("y"))
        await x.expect("peer-joined")
        # Process one stops dead: no goodbye, its sockets and liveness key go with it.
        registry = one.registry
        for task in [registry._sweeper, *registry.outbox._workers]:
            task.cancel()
        registry.bus._listener.cancel()
        await registry.bus.redis.delete(registry.bus._node_key(registry.bus.node_id))
        await x.ws.close()

        back = await two.connect("r", identity("x"), resume_token=x.welcome["resume_token"])
        assert back.welcome["peer_id"] == x.peer_id
        assert back.welcome["resumed"] is True
        assert [p["peer_id"] for p in back.welcome["peers"]] == [y.peer_id]
        # Signalling flows both ways again.
        await y.send(type="offer", to=x.peer_id, sdp="v=0 after")
        assert (await back.expect("offer"))["from"] == y.peer_id
        await back.send(type="answer", to=y.peer_id, sdp="v=0 answer")
        assert (await y.expect("answer"))["from"] == x.peer_id
        # Well past the time a dead process's peers are dropped: x was never a ghost to drop.
        await asyncio.sleep(8 * two.registry.config.bus_heartbeat_seconds)
        assert "peer-left" not in y.types()
        assert y.types().count("peer-joined") == 0
        await back.send(type="leave")
        assert (await y.expect("peer-left"))["peer_id"] == x.peer_id


async def test_a_client_sent_to_the_other_process_keeps_its_place(redis_url: str) -> None:
    async with two_apps(redis_url) as (one, two):
        x = await one.connect("r", identity("x"))
        y = await two.connect("r", identity("y"))
        z = await one.connect("r", identity("z"))
        await x.expect("peer-joined", lambda f: f["peer"]["peer_id"] == z.peer_id)
        await x.ws.close()
        back = await two.connect("r", identity("x"), resume_token=x.welcome["resume_token"])
        assert back.welcome["peer_id"] == x.peer_id
        await z.send(type="chat", text="vẫn nghe rõ")
        assert (await back.expect("chat"))["text"] == "vẫn nghe rõ"
        # Past the grace period one would have given x: no one saw x leave.
        await asyncio.sleep(3 * one.registry.config.grace_seconds)
        for other in (y, z):
            left = [f["peer_id"] for f in other.frames if f.get("type") == "peer-left"]
            assert x.peer_id not in left
        assert x.peer_id in {p.peer_id for p in one.registry.rooms["r"].peers.values()}
