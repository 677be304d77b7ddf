"""`spotlight`: the chair puts one peer's camera or screen on everyone's stage; only
moderators may, late joiners see it, and it crosses server processes."""

from __future__ import annotations

import dataclasses

import pytest
from sighelpers import FAST, Harness, identity, running
from test_redis import two_apps


async def test_chair_spotlights_for_everyone_and_late_joiners(app: Harness) -> None:
    chair = await app.connect("r1", identity("chair", moderator=True))
    b = await app.connect("r1", identity("b"))
    c = await app.connect("r1", identity("c"))
    assert c.welcome["spotlight"] is None
    await chair.send(type="spotlight", peer_id=b.peer_id, kind="screen")
    want = {"type": "spotlight", "peer_id": b.peer_id, "kind": "screen", "by": chair.peer_id}
    for client in (chair, b, c):
        assert await client.expect("spotlight") == want

    late = await app.connect("r1", identity("late"))
    assert late.welcome["spotlight"] == {
        "peer_id": b.peer_id, "kind": "screen", "by": chair.peer_id}

    await chair.send(type="spotlight", peer_id=None)
    for client in (b, c, late):
        assert (await client.expect("spotlight"))["peer_id"] is None
    again = await app.connect("r1", identity("again"))
    assert again.welcome["spotlight"] is None


async def test_only_moderators_and_only_present_peers(app: Harness) -> None:
    chair = await app.connect("r1", identity("chair", moderator=True))
    b = await app.connect("r1", identity("b"))
    await b.send(type="spotlight", peer_id=b.peer_id, id=1)
    error = await b.expect("error")
    assert error["code"] == "forbidden" and error["id"] == 1
    await chair.send(type="spotlight", peer_id="nobody", id=2)
    assert (await chair.expect("error"))["code"] == "peer-not-found"
    await chair.send(type="spotlight", peer_id=b.peer_id, kind="slides", id=3)
    assert (await chair.expect("error"))["code"] == "bad-message"
    await chair.send(type="spotlight", peer_id="p" * 65, id=4)
    assert (await chair.expect("error"))["code"] == "bad-message"
    assert "spotlight" not in b.types()


async def test_spotlight_goes_when_its_peer_leaves(app: Harness) -> None:
    chair = await app.connect("r1", identity("chair", moderator=True))
    b = await app.connect("r1", identity("b"))
    await chair.send(type="spotlight", peer_id=b.peer_id, kind="camera")
    await chair.expect("spotlight")
    await b.send(type="leave")
    await chair.expect("peer-left")
    late = await app.connect("r1", identity("late"))
    assert late.welcome["spotlight"] is None


async def test_spotlight_rate_is_limited() -> None:
    config = dataclasses.replace(FAST, spotlight_per_second=0.01, spotlight_burst=2)
    async with running(config) as app:
        chair = await app.connect("r1", identity("chair", moderator=True))
        b = await app.connect("r1", identity("b"))
        for n in range(3):
            await chair.send(type="spotlight", peer_id=b.peer_id, id=n)
        assert (await chair.expect("error"))["code"] == "rate-limited"
        assert len([t for t in b.types() if t == "spotlight"]) <= 2


@pytest.mark.redis
async def test_spotlight_crosses_processes(redis_url: str) -> None:
    async with two_apps(redis_url) as (one, two):
        chair = await one.connect("r", identity("chair", moderator=True))
        b = await one.connect("r", identity("b"))
        await chair.send(type="spotlight", peer_id=b.peer_id, kind="camera")
        await b.expect("spotlight")
        # The second process is new to the room: it learns the spotlight from the first.
        c = await two.connect("r", identity("c"))
        got = c.welcome["spotlight"] or await c.expect("spotlight")
        assert got["peer_id"] == b.peer_id
        await chair.send(type="spotlight", peer_id=chair.peer_id, kind="camera")
        assert (await c.expect("spotlight", lambda f: f["peer_id"] == chair.peer_id))["by"] \
            == chair.peer_id
