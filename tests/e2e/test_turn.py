"""A call through a real coturn only: both browsers forced to relay candidates, over UDP and
over TCP (a clinic whose firewall lets only TCP out), with the credentials Telemed hands out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from e2etools import Pages, World, join, open_room, peer_id, seed, wait_video_from, wait_view
from playwright.async_api import Browser, Page

from bench.links.pagejs import RELAY_ONLY, SELECTED_PAIRS
from bench.links.turn import Turn, coturn
from telemed.app import create_app
from telemed.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def turn() -> Iterator[Turn]:
    """coturn with use-auth-secret on loopback."""
    with coturn() as server:
        yield server


@pytest.fixture(params=["udp", "tcp"])
async def turn_world(
    request: pytest.FixtureRequest, tmp_path: Path, turn: Turn
) -> AsyncIterator[tuple[World, str]]:
    """The application handing out TURN over UDP, or over TCP only, and that protocol."""
    protocol: str = request.param
    url = turn.udp_url if protocol == "udp" else turn.tcp_url
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(
        data_dir=data_dir, host="127.0.0.1", port=8080, turn_urls=(url,), turn_secret=turn.secret
    )
    data = await seed(settings.effective_database_url)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield World(base_url=str(server.make_url("")).rstrip("/"), **data), protocol
    finally:
        await server.close()


async def _relay_call(browser: Browser, pages: Pages, world: World) -> tuple[Page, Page]:
    chair = await open_room(
        browser, pages, world, world.chair, world.open_room, label="chair", init_script=RELAY_ONLY
    )
    await join(chair)
    await wait_view(chair, "call")
    guest = await open_room(
        browser, pages, world, world.specialist, world.open_room, label="guest",
        init_script=RELAY_ONLY,
    )  # fmt: skip
    await join(guest)
    await wait_view(guest, "call")
    await wait_video_from(chair, await peer_id(guest))
    await wait_video_from(guest, await peer_id(chair))
    return chair, guest


async def _assert_relayed(page: Page, turn: Turn, protocol: str) -> None:
    # A pair chosen anew (an ICE restart on a busy machine) starts from zero bytes: give the
    # media a few seconds to reach it before reading.
    for _ in range(40):
        pairs: list[dict[str, Any]] = await page.evaluate(SELECTED_PAIRS)
        if pairs and all(p["bytesReceived"] > 0 for p in pairs):
            break
        await asyncio.sleep(0.25)
    assert pairs, "no selected candidate pair"
    for pair in pairs:
        assert pair["state"] == "succeeded"
        assert pair["bytesReceived"] > 0
        assert pair["localType"] == "relay" and pair["remoteType"] == "relay"
        assert pair["relayProtocol"] == protocol
        assert f":{turn.port}" in (pair["localUrl"] or "")


async def test_a_call_works_through_turn_only(
    browser: Browser, pages: Pages, turn: Turn, turn_world: tuple[World, str]
) -> None:
    world, protocol = turn_world
    chair, guest = await _relay_call(browser, pages, world)
    # The ICE servers came from the server: TURN REST credentials, `expiry:user`.
    servers = await chair.evaluate("window.rtcConfigs[0].iceServers")
    [server] = [s for s in servers if any(u.startswith("turn:") for u in s["urls"])]
    assert server["urls"] == [turn.udp_url if protocol == "udp" else turn.tcp_url]
    expiry, _, user = server["username"].partition(":")
    assert int(expiry) > 0 and user
    await _assert_relayed(chair, turn, protocol)
    await _assert_relayed(guest, turn, protocol)
