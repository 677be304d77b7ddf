"""Redis goes away and comes back empty (a restart): rooms resynchronise and joins go on.

Redis is reached through a TCP proxy the test cuts and restores; while it is cut the room's
keys are deleted, as a restart of a Redis that keeps nothing on disk would lose them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from sighelpers import FAST, Harness, identity, running
from tcpproxy import TcpProxy

pytestmark = pytest.mark.redis

RESYNC_BOUND = 5.0


@contextlib.asynccontextmanager
async def behind_proxy(url: str) -> AsyncIterator[tuple[TcpProxy, Harness, Harness, str]]:
    """Two apps sharing Redis through one proxy; the key prefix they use."""
    options = parse_url(url)
    proxy = TcpProxy(str(options.get("host", "127.0.0.1")), int(options.get("port", 6379)))
    await proxy.start()
    db = options.get("db", 0)
    proxied = f"redis://127.0.0.1:{proxy.port}/{db}"
    prefix = f"test:{secrets.token_hex(6)}:"
    config = dataclasses.replace(FAST, redis_url=proxied, redis_prefix=prefix)
    try:
        async with running(config) as one, running(config) as two:
            yield proxy, one, two, prefix
    finally:
        await proxy.close()
        await _forget(url, prefix)


async def _forget(url: str, prefix: str) -> None:
    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_rooms_resync_and_joins_go_on_after_a_redis_restart(redis_url: str) -> None:
    async with behind_proxy(redis_url) as (proxy, one, two, prefix):
        x = await one.connect("r", identity("x"))
        y = await two.connect("r", identity("y"))
        await x.expect("peer-joined")

        await proxy.cut()
        await _forget(redis_url, prefix)
        await asyncio.sleep(1.0)
        await proxy.restore()

        # Each side hears the other again, and neither was told the other left.
        sync_x = await x.expect("peers", timeout=RESYNC_BOUND)
        assert [p["peer_id"] for p in sync_x["peers"]] == [y.peer_id]
        sync_y = await y.expect("peers", timeout=RESYNC_BOUND)
        assert [p["peer_id"] for p in sync_y["peers"]] == [x.peer_id]
        # A newcomer on either process finds everyone, and everyone hears of it.
        z = await two.connect("r", identity("z"))
        assert {p["peer_id"] for p in z.welcome["peers"]} == {x.peer_id, y.peer_id}
        await x.expect("peer-joined", lambda f: f["peer"]["peer_id"] == z.peer_id)
        await z.send(type="offer", to=x.peer_id, sdp="v=0 after")
        assert (await x.expect("offer"))["from"] == z.peer_id
        for client in (x, y):
            assert "peer-left" not in client.types()
