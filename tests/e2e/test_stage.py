"""The stage in a real Chromium: a shared screen fills the other's stage beside the presenter's
camera, pins are one's own, and the chair's spotlight reaches every page, late joiners too."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2etools import Pages, World, join, open_room, peer_id, wait_video_from, wait_view
from playwright.async_api import Browser, Page

pytestmark = pytest.mark.slow

# The width and height of the picture a <video> shows inside its box (object-fit: contain).
SHOWN = """sel => {
    const v = document.querySelector(sel);
    if (!v || !v.videoWidth) return null;
    const box = v.getBoundingClientRect();
    const scale = Math.min(box.width / v.videoWidth, box.height / v.videoHeight);
    return { width: v.videoWidth * scale, height: v.videoHeight * scale, playing: !v.paused };
}"""


async def on_stage(page: Page, selector: str) -> None:
    """Wait until the tile matching `selector` is the one on this page's stage."""
    await page.wait_for_selector(f"#room-stage {selector}")


async def test_shared_screen_fills_the_stage_and_spotlight_reaches_everyone(
    browser: Browser, pages: Pages, world: World, artifacts_dir: Path
) -> None:
    consultation = world.open_room
    chair = await open_room(browser, pages, world, world.chair, consultation, label="chair")
    await join(chair)
    await wait_view(chair, "call")
    presenter = await open_room(
        browser, pages, world, world.specialist, consultation, label="presenter"
    )
    await join(presenter)
    await wait_view(presenter, "call")
    chair_id, presenter_id = await peer_id(chair), await peer_id(presenter)
    await wait_video_from(chair, presenter_id)

    # The presenter shares a screen (Chromium picks one by itself with the fake UI flag).
    await presenter.click("#control-screen")
    await presenter.wait_for_selector('#control-screen[aria-pressed="true"]')
    screen = f'#room-stage .tile-screen[data-screen-of="{presenter_id}"] video'
    await chair.wait_for_function(f"() => ({SHOWN})({screen!r})?.width > 0", polling=250)
    shown = await chair.evaluate(SHOWN, screen)
    assert shown["width"] >= 1000, shown
    assert shown["playing"]
    # The presenter's camera is still there, in the strip, playing.
    camera = f'#room-strip .tile[data-peer-id="{presenter_id}"] video'
    await chair.wait_for_function(f"() => ({SHOWN})({camera!r})?.playing === true")
    assert await chair.locator(camera).is_visible()
    await chair.screenshot(path=str(artifacts_dir / "room-stage.png"))

    # Pinning is one's own: the chair pins the presenter's camera, the presenter sees no change.
    pin = chair.locator(f'.tile[data-peer-id="{presenter_id}"] .tile-pin')
    await pin.click()
    await on_stage(chair, f'.tile[data-peer-id="{presenter_id}"].is-pinned')
    assert await pin.get_attribute("aria-pressed") == "true"
    assert "P" in (await pin.get_attribute("aria-keyshortcuts") or "")
    # The keyboard unpins it again: focus the tile, press P.
    await chair.focus(f'#room-stage .tile[data-peer-id="{presenter_id}"]')
    await chair.keyboard.press("p")
    await on_stage(chair, f'.tile-screen[data-screen-of="{presenter_id}"]')

    # The chair spotlights their own camera for everyone.
    spot = chair.locator(f'.tile[data-peer-id="{chair_id}"] .tile-spot')
    label = await spot.get_attribute("aria-label")
    assert label and world.chair.name in label
    await spot.click()
    for page in (chair, presenter):
        await on_stage(page, f'.tile[data-peer-id="{chair_id}"].is-spotlit')
    # A participant has no spotlight button at all.
    assert not await presenter.locator(".tile-spot").first.is_visible()

    # Someone joining later sees the same stage.
    late = await open_room(browser, pages, world, world.doctor, consultation, label="late")
    await join(late)
    await wait_view(late, "call")
    await on_stage(late, f'.tile[data-peer-id="{chair_id}"].is-spotlit')

    # Taking the spotlight off gives everyone the shared screen again.
    await chair.focus(f'#room-stage .tile[data-peer-id="{chair_id}"]')
    await chair.keyboard.press("s")
    for page in (chair, late):
        await on_stage(page, f'.tile-screen[data-screen-of="{presenter_id}"]')

    # The grid stays available; the stage comes back.
    await late.click("#control-layout")
    await late.wait_for_selector('#room-grid[data-layout="grid"]')
    assert await late.locator("#room-stage .tile").count() == 0
    await late.keyboard.press("g")
    await late.wait_for_selector('#room-grid[data-layout="stage"]')

    # Stopping the share brings the presenter's camera tile back as the only one of theirs.
    await presenter.click("#control-screen")
    await chair.wait_for_selector(f'[data-screen-of="{presenter_id}"]', state="detached")
