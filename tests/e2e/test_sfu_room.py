"""A room through Janus in Chromium: two pages publish to and receive from the SFU through
Telemed's relay and see each other; the lobby and removal work as in a mesh room."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from e2etools import (
    PASSWORD,
    Pages,
    World,
    join,
    open_room,
    peer_id,
    seed,
    wait_video_from,
    wait_view,
)
from janustools import running_janus
from playwright.async_api import Browser
from sfupeer import SfuPeer
from sighelpers import Client

from telemed.app import create_app
from telemed.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ice_host")]


@pytest.fixture
async def sfu_world(tmp_path: Path) -> AsyncIterator[World]:
    """The real application with its rooms on a real Janus."""
    async with running_janus(tmp_path / "janus") as janus:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        settings = Settings(
            data_dir=data_dir,
            host="127.0.0.1",
            port=8080,
            janus_url=janus.url,
            janus_api_secret=janus.api_secret,
            janus_admin_key=janus.admin_key,
        )
        data = await seed(settings.effective_database_url)
        server = TestServer(create_app(settings), host="127.0.0.1")
        await server.start_server()
        try:
            yield World(base_url=str(server.make_url("")).rstrip("/"), **data)
        finally:
            await server.close()


async def test_lobby_video_and_removal_in_an_sfu_room(
    browser: Browser, pages: Pages, sfu_world: World
) -> None:
    world = sfu_world
    chair = await open_room(browser, pages, world, world.chair, world.room, label="chair")
    chair.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await join(chair)
    await wait_view(chair, "call")
    # The specialist waits in the lobby, as in a mesh room, until the chair admits them.
    guest = await open_room(browser, pages, world, world.specialist, world.room, label="guest")
    await join(guest)
    await wait_view(guest, "lobby")
    await chair.click('.side-tab[data-tab="lobby"]')
    waiting = chair.locator("#lobby-list .person", has_text=world.specialist.name)
    await waiting.locator('[data-action="admit"]').click()
    await wait_view(guest, "call")
    chair_id, guest_id = await peer_id(chair), await peer_id(guest)
    await wait_video_from(chair, guest_id)
    await wait_video_from(guest, chair_id)
    # An aiortc participant (the doctor, through the API) waits, is admitted, and everyone
    # receives everyone else.
    async with aiohttp.ClientSession(world.base_url) as http:
        resp = await http.post(
            "/api/v1/tokens", json={"username": world.doctor.username, "password": PASSWORD}
        )
        assert resp.status == 201, await resp.text()
        bearer = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        resp = await http.post(f"/api/v1/consultations/{world.room.id}/join", headers=bearer)
        assert resp.status == 200, await resp.text()
        grant = await resp.json()
        doctor_ws = await http.ws_connect(grant["ws_url"], params={"token": grant["token"]})
        doctor_client = Client(doctor_ws)
        await doctor_client.send(type="join", resume_token=None)
        await doctor_client.expect("lobby")
        waiting = chair.locator("#lobby-list .person", has_text=world.doctor.name)
        await chair.click('.side-tab[data-tab="lobby"]')
        await waiting.locator('[data-action="admit"]').click()
        doctor_client.welcome = await doctor_client.expect("welcome")
        assert doctor_client.welcome["media"] == "sfu"
        doctor = SfuPeer(doctor_client)
        try:
            await doctor.wait_for([chair_id, guest_id])
            await wait_video_from(chair, doctor_client.peer_id)
            await wait_video_from(guest, doctor_client.peer_id)
        finally:
            await doctor.close()
    # One subscriber connection from Janus, not a connection per peer: each page sends its
    # media once, to the server.
    for page in (chair, guest):
        offers = await page.evaluate(
            """() => [...new Set(window.telemedRoom.connections().map(([, pc]) => pc))]
                .map((pc) => pc.remoteDescription.sdp)"""
        )
        assert len(offers) == 1
        assert "cname:janus" in offers[0]

    # Removing the specialist sends them out for good, and their tile goes.
    await chair.click('.side-tab[data-tab="people"]')
    person = chair.locator(f'#people-list .person[data-peer-id="{guest_id}"]')
    await person.locator('[data-action="kick"]').click()
    await wait_view(guest, "ended")
    assert "mời ra khỏi phòng" in await guest.inner_text("#room-ended-title")
    await chair.wait_for_selector(f'.tile[data-peer-id="{guest_id}"]', state="detached")
