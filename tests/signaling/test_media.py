"""Real aiortc peers connect through the server: offers, answers, data channels, video."""

from __future__ import annotations

import asyncio

import pytest
from rtcpeer import RtcPeer
from sighelpers import Harness, identity

pytestmark = pytest.mark.usefixtures("ice_host")


async def mesh(app: Harness, count: int, room: str = "media") -> list[RtcPeer]:
    """Join `count` peers one after another; each newcomer offers to those present."""
    peers: list[RtcPeer] = []
    for index in range(count):
        client = await app.connect(room, identity(f"u{index}"))
        peers.append(RtcPeer(client))
    return peers


async def exchange(peers: list[RtcPeer]) -> None:
    """Apply answers, wait for every pair, and send a message on every channel."""
    await asyncio.gather(*(p.take_answers(len(p.client.welcome["peers"])) for p in peers))
    ids = [p.client.peer_id for p in peers]
    await asyncio.gather(*(p.wait_connected([o for o in ids if o != p.client.peer_id])
                           for p in peers))
    for p in peers:
        for other, channel in p.channels.items():
            channel.send(f"{p.client.peer_id}->{other}")

    async def delivered() -> None:
        while not all(len(m) >= 1 for p in peers for m in p.messages.values()):
            await asyncio.sleep(0.05)
    await asyncio.wait_for(delivered(), 20)
    for p in peers:
        for other, received in p.messages.items():
            assert received == [f"{other}->{p.client.peer_id}"]


async def test_two_peers_exchange_media(app: Harness) -> None:
    peers = await mesh(app, 2)
    try:
        await exchange(peers)
    finally:
        await asyncio.gather(*(p.close() for p in peers))


@pytest.mark.slow
async def test_four_peers_full_mesh(app: Harness) -> None:
    peers = await mesh(app, 4)
    try:
        await exchange(peers)
        assert all(len(p.pcs) == 3 for p in peers)
    finally:
        await asyncio.gather(*(p.close() for p in peers))
