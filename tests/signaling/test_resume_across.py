"""A participant resumes its place through another process: when its process dies, and when
the proxy simply sends it elsewhere. The others see no one leave or join."""

from __future__ import annotations

import asyncio

import pytest
from sighelpers import identity
from test_redis import two_apps

from signaling.events import PeerLeft

pytestmark = pytest.mark.redis


async def test_resume_on_another_process_after_its_process_died(redis_url: str) -> None:
    async with two_apps(redis_url) as (one, two):
        x = await one.connect("r", identity("x"))
        y = await two.connect("r", identity("y"))
        w = await one.connect("r", identity("w"))
        await x.expect("peer-joined", lambda f: f["peer"]["peer_id"] == w.peer_id)
        # Process one stops dead: no goodbye, its sockets and liveness key go with it.
        registry = one.registry
        stopped = [registry._sweeper, *registry.outbox._workers, registry.bus._listener]
        for task in stopped:
            task.cancel()
        # Stopped for good before its liveness key goes: a heartbeat still on its way would
        # bring the key back, and the survivor would wait for a process that is dead.
        await asyncio.gather(*stopped, return_exceptions=True)
        await registry.bus.redis.delete(registry.bus._node_key(registry.bus.node_id))
        await x.ws.close()

        back = await two.connect("r", identity("x"), resume_token=x.welcome["resume_token"])
        assert back.welcome["peer_id"] == x.peer_id
        assert back.welcome["resumed"] is True
        # w may already be gone (its process is dead), y is there.
        assert y.peer_id in {p["peer_id"] for p in back.welcome["peers"]}
        # Signalling flows both ways again.
        await y.send(type="offer", to=x.peer_id, sdp="v=0 after")
        assert (await back.expect("offer"))["from"] == y.peer_id
        await back.send(type="answer", to=y.peer_id, sdp="v=0 answer")
        assert (await y.expect("answer"))["from"] == x.peer_id
        # Well past the time a dead process's peers are dropped: x was never a ghost to drop.
        left = await y.expect("peer-left", timeout=15)
        # w never came back: gone for the others, and its attendance closed by the survivor.
        assert left == {"type": "peer-left", "peer_id": w.peer_id, "reason": "timeout"}
        departures = await two.sink.wait_for(PeerLeft)
        assert [(e.peer_id, e.reason) for e in departures] == [(w.peer_id, "timeout")]
        await asyncio.sleep(4 * two.registry.config.bus_heartbeat_seconds)
        assert y.types().count("peer-left") == 1
        assert y.types().count("peer-joined") == 1  # w, before the failure
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
