"""The consultation room in a real Chromium: two people meet, talk, are moderated and reconnect."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from e2etools import (
    ARTIFACTS,
    Pages,
    World,
    join,
    log_in,
    new_context,
    open_room,
    peer_id,
    wait_video_from,
    wait_view,
)
from playwright.async_api import Browser, Dialog, Page, Route

pytestmark = pytest.mark.slow


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()


def accept_dialogs(page: Page) -> None:
    """Answer "OK" to confirmations (ending the session, removing someone)."""
    page.on("dialog", _accept)


async def meet(browser: Browser, pages: Pages, world: World, *, lobby: bool) -> tuple[Page, Page]:
    """The chair and the specialist in the same call, each seeing the other's video."""
    consultation = world.room if lobby else world.open_room
    chair = await open_room(browser, pages, world, world.chair, consultation, label="chair")
    await chair.wait_for_selector("#join-button:not([disabled])")
    # The fake microphone beeps: the level meter moves before joining.
    await chair.wait_for_function("() => document.getElementById('prejoin-level').value > 0.2")
    await chair.screenshot(path=str(ARTIFACTS / "room-prejoin.png"))
    await join(chair)
    await wait_view(chair, "call")
    guest = await open_room(browser, pages, world, world.specialist, consultation, label="guest")
    await join(guest)
    if lobby:
        await wait_view(guest, "lobby")
        await guest.screenshot(path=str(ARTIFACTS / "room-lobby.png"))
        # The chair sees the waiting specialist in the lobby panel and lets them in.
        await chair.click('.side-tab[data-tab="lobby"]')
        waiting = chair.locator("#lobby-list .person", has_text=world.specialist.name)
        await waiting.locator('[data-action="admit"]').click()
    await wait_view(guest, "call")
    return chair, guest


async def test_two_people_see_and_hear_each_other_and_chat(
    browser: Browser, pages: Pages, world: World, artifacts_dir: Path
) -> None:
    chair, guest = await meet(browser, pages, world, lobby=True)
    chair_id, guest_id = await peer_id(chair), await peer_id(guest)
    assert chair_id != guest_id

    await wait_video_from(chair, guest_id)
    await wait_video_from(guest, chair_id)
    # Names, titles and facilities on the tiles.
    guest_tile = chair.locator(f'.tile[data-peer-id="{guest_id}"]')
    assert world.specialist.name in await guest_tile.locator(".tile-name").inner_text()
    meta = await guest_tile.locator(".tile-meta").inner_text()
    assert "Bệnh viện Đa khoa tỉnh Bình Phước" in meta

    # Chat: sent by the guest, shown on the chair's side with sender and time.
    await guest.click('.side-tab[data-tab="chat"]')
    await guest.fill("#chat-input", "Xin chào, tôi đã đọc hồ sơ bệnh án.")
    await guest.press("#chat-input", "Enter")
    await chair.click('.side-tab[data-tab="chat"]')
    line = chair.locator("#chat-list .chat-message", has_text="tôi đã đọc hồ sơ bệnh án")
    await line.wait_for()
    assert world.specialist.name in await line.locator(".chat-sender").inner_text()
    assert ":" in await line.locator(".chat-time").inner_text()

    # The chair asks the guest to mute: the guest's microphone goes off, the chair sees it.
    await chair.click('.side-tab[data-tab="people"]')
    person = chair.locator(f'#people-list .person[data-peer-id="{guest_id}"]')
    await person.locator('[data-action="mute"]').click()
    await guest.wait_for_selector('#control-audio[aria-pressed="true"]')
    assert await guest.evaluate("window.telemedRoom.micEnabled") is False
    await chair.wait_for_selector(f'.tile.is-muted[data-peer-id="{guest_id}"]')

    # The guest raises a hand; the chair sees it on the tile.
    await guest.click("#control-hand")
    await chair.wait_for_selector(f'.tile.hand-up[data-peer-id="{guest_id}"]')

    await chair.screenshot(path=str(artifacts_dir / "room-call-chair.png"))
    await guest.screenshot(path=str(artifacts_dir / "room-call-guest.png"))


async def test_bandwidth_controls_and_screen_sharing(
    browser: Browser, pages: Pages, world: World
) -> None:
    chair, guest = await meet(browser, pages, world, lobby=False)
    chair_id, guest_id = await peer_id(chair), await peer_id(guest)
    await wait_video_from(chair, guest_id)

    # Low bandwidth caps the video sent on every connection.
    await guest.click("#control-lowbw")
    await guest.wait_for_function(
        """() => window.telemedRoom.connections().every(([, pc]) => pc.getSenders().some((s) =>
            s.track && s.track.kind === "video" &&
            (s.getParameters().encodings || [])[0]?.maxBitrate === 150000 &&
            (s.getParameters().encodings || [])[0]?.scaleResolutionDownBy === 2))"""
    )

    # Audio only stops video both ways; the chair's tile of the guest falls back to initials.
    await guest.click("#control-audio-only")
    await chair.wait_for_selector(f'.tile.video-off[data-peer-id="{guest_id}"]')
    await guest.wait_for_function(
        """() => window.telemedRoom.connections().every(([, pc]) => pc.getTransceivers().every(
            (t) => t.receiver.track.kind !== "video" || t.currentDirection === "inactive"))"""
    )
    await guest.click("#control-audio-only")
    await wait_video_from(chair, guest_id)
    await wait_video_from(guest, chair_id)

    # Screen sharing replaces the camera; the other side is told.
    await chair.click("#control-screen")
    await chair.wait_for_selector('#control-screen[aria-pressed="true"]')
    await guest.wait_for_selector(f'.tile.is-sharing[data-peer-id="{chair_id}"]')
    await chair.click("#control-screen")
    await guest.wait_for_selector(f'.tile:not(.is-sharing)[data-peer-id="{chair_id}"]')


async def test_reconnect_resumes_the_same_peer_without_flicker(
    browser: Browser, pages: Pages, world: World, artifacts_dir: Path
) -> None:
    chair, guest = await meet(browser, pages, world, lobby=False)
    chair_id, guest_id = await peer_id(chair), await peer_id(guest)
    await wait_video_from(chair, guest_id)
    await wait_video_from(guest, chair_id)
    presence_before = await chair.evaluate("window.telemedRoom.presence()")

    # Hold the guest's next join request so the reconnecting state can be seen.
    release = asyncio.Event()
    held = asyncio.Event()

    async def hold(route: Route) -> None:
        held.set()
        await release.wait()
        await route.continue_()

    # The guest's tile of the chair must survive the reconnect (no rebuild, no blank video).
    await guest.evaluate(
        "id => { document.querySelector(`.tile[data-peer-id='${id}']`).dataset.mark = 'kept'; }",
        chair_id,
    )
    await guest.route("**/api/v1/consultations/*/join", hold)
    await guest.evaluate("window.telemedRoom.dropSocket()")
    await asyncio.wait_for(held.wait(), 30)
    banner = guest.locator("#room-banner")
    await banner.wait_for(state="visible")
    assert "Đang kết nối lại…" in await banner.inner_text()
    await guest.screenshot(path=str(artifacts_dir / "room-reconnecting.png"))
    release.set()

    await guest.wait_for_function("() => window.telemedRoom.signalingState === 'joined'")
    await banner.wait_for(state="hidden")
    assert await peer_id(guest) == guest_id
    # Video keeps flowing both ways on the same connections.
    await wait_video_from(chair, guest_id)
    await wait_video_from(guest, chair_id)
    assert await guest.locator(f'.tile[data-peer-id="{chair_id}"][data-mark="kept"]').count() == 1
    # The chair never saw the guest leave and come back.
    assert await chair.evaluate("window.telemedRoom.presence()") == presence_before
    assert {p["peer_id"] for p in await chair.evaluate("window.telemedRoom.peers()")} == {guest_id}
    # And the socket works again: a state change reaches the chair.
    await guest.click("#control-hand")
    await chair.wait_for_selector(f'.tile.hand-up[data-peer-id="{guest_id}"]')


async def test_end_for_all_sends_everyone_out(
    browser: Browser, pages: Pages, world: World, artifacts_dir: Path
) -> None:
    chair, guest = await meet(browser, pages, world, lobby=False)
    accept_dialogs(chair)
    await chair.click("#control-end")
    for page in (chair, guest):
        await wait_view(page, "ended")
        assert "Phiên hội chẩn đã kết thúc" in await page.inner_text("#room-ended-title")
        # Nobody keeps a camera or a connection open.
        assert await page.evaluate("window.telemedRoom.connections().length") == 0
    await guest.screenshot(path=str(artifacts_dir / "room-ended.png"))


async def test_refused_camera_permission_is_explained_in_vietnamese(
    strict_browser: Browser, pages: Pages, world: World, artifacts_dir: Path
) -> None:
    ctx = await new_context(strict_browser)
    page = pages.add("denied", await ctx.new_page())
    await log_in(page, world, world.specialist)
    await page.goto(world.room_url(world.open_room))
    error = page.locator("#prejoin-error")
    await error.wait_for(state="visible")
    assert "bị chặn quyền dùng camera và micro" in await error.inner_text()
    assert await page.is_disabled("#join-button")
    # Joining as a viewer still works.
    await page.click("#join-viewer-button")
    await wait_view(page, "call")
    await page.screenshot(path=str(artifacts_dir / "room-permission-denied.png"))


async def test_the_chair_denies_and_removes_people(
    browser: Browser, pages: Pages, world: World
) -> None:
    chair = await open_room(browser, pages, world, world.chair, world.room, label="chair")
    accept_dialogs(chair)
    await join(chair)
    await wait_view(chair, "call")
    # The specialist is admitted; the doctor, waiting too, is refused.
    guest = await open_room(browser, pages, world, world.specialist, world.room, label="guest")
    await join(guest)
    await wait_view(guest, "lobby")
    doctor = await open_room(browser, pages, world, world.doctor, world.room, label="doctor")
    await join(doctor)
    await wait_view(doctor, "lobby")
    await chair.click('.side-tab[data-tab="lobby"]')
    lobby = chair.locator("#lobby-list")
    deny = lobby.locator(".person", has_text=world.doctor.name).locator('[data-action="deny"]')
    await deny.click()
    await wait_view(doctor, "ended")
    assert "từ chối" in await doctor.inner_text("#room-ended-title")
    waiting = lobby.locator(".person", has_text=world.specialist.name)
    admit = waiting.locator('[data-action="admit"]')
    await admit.click()
    await wait_view(guest, "call")
    guest_id = await peer_id(guest)

    # Removing the specialist sends them out for good.
    await chair.click('.side-tab[data-tab="people"]')
    person = chair.locator(f'#people-list .person[data-peer-id="{guest_id}"]')
    await person.locator('[data-action="kick"]').click()
    await wait_view(guest, "ended")
    assert "mời ra khỏi phòng" in await guest.inner_text("#room-ended-title")
    assert await guest.is_hidden("#room-rejoin")
    await chair.wait_for_selector(f'.tile[data-peer-id="{guest_id}"]', state="detached")


async def test_someone_from_another_facility_cannot_open_the_room(
    browser: Browser, pages: Pages, world: World
) -> None:
    ctx = await new_context(browser)
    page = pages.add("stranger", await ctx.new_page())
    await log_in(page, world, world.stranger)
    resp = await page.goto(world.room_url(world.room))
    assert resp is not None and resp.status == 404
    assert await page.locator("#room").count() == 0
    assert "Nguyễn Thị Lan" not in await page.inner_text("body")


async def test_the_test_hook_is_there_only_when_asked_for(
    browser: Browser, pages: Pages, world: World
) -> None:
    ctx = await browser.new_context(locale="vi-VN")
    page = pages.add("plain", await ctx.new_page())
    await log_in(page, world, world.chair)
    await page.goto(world.room_url(world.open_room))
    # The room's script has run: it enabled the viewer's button.
    await page.wait_for_selector("#join-viewer-button:not([disabled])")
    assert await page.evaluate("typeof window.telemedRoom") == "undefined"
    asked = await open_room(browser, pages, world, world.chair, world.open_room, label="hooked")
    assert await asked.evaluate("window.telemedRoom.view") == "prejoin"
