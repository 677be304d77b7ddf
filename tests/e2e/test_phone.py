"""The room on a phone (390×844, then on its side): the call is the whole screen, every control
of the bar is within it without scrolling, the side panel opens as a sheet, and a browser that
cannot share its screen is not offered to."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2etools import WAIT_MS, Pages, World, join, log_in, open_room, peer_id, wait_view
from playwright.async_api import Browser, Page

pytestmark = pytest.mark.slow

# Phones have no getDisplayMedia: take it away before the page's scripts look for it.
NO_SCREEN_SHARING = "delete MediaDevices.prototype.getDisplayMedia;"

# Every shown control of the bar, with its box; and whether the page scrolls at all.
LAYOUT = """() => {
    const shown = [...document.querySelectorAll('.room-controls .control')]
        .filter((el) => el.offsetParent !== null);
    const scroller = document.scrollingElement;
    return {
        viewport: { width: innerWidth, height: innerHeight },
        scrolls: scroller.scrollHeight > innerHeight + 1 || scroller.scrollWidth > innerWidth + 1,
        controls: shown.map((el) => {
            const r = el.getBoundingClientRect();
            return { id: el.id, left: r.left, top: r.top, right: r.right, bottom: r.bottom };
        }),
    };
}"""


def outside(layout: dict[str, object]) -> list[object]:
    """The controls not wholly inside the viewport."""
    view = layout["viewport"]
    assert isinstance(view, dict)
    controls = layout["controls"]
    assert isinstance(controls, list)
    return [
        c for c in controls
        if c["left"] < 0 or c["top"] < 0 or c["right"] > view["width"]
        or c["bottom"] > view["height"]
    ]


async def phone(browser: Browser, pages: Pages, world: World) -> Page:
    """The chair on a phone without screen sharing, in the call."""
    ctx = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True, has_touch=True
    )
    ctx.set_default_timeout(WAIT_MS)
    await ctx.add_init_script("window.telemedTestHook = true;")
    await ctx.add_init_script(NO_SCREEN_SHARING)
    page = pages.add("phone", await ctx.new_page())
    await log_in(page, world, world.chair)
    await page.goto(world.room_url(world.open_room))
    await page.wait_for_function("() => window.telemedRoom !== undefined")
    await join(page)
    await wait_view(page, "call")
    return page


async def test_the_call_fits_a_phone_upright_and_on_its_side(
    browser: Browser, pages: Pages, world: World, artifacts_dir: Path
) -> None:
    page = await phone(browser, pages, world)
    other = await open_room(browser, pages, world, world.specialist, world.open_room, label="pc")
    await join(other)
    other_id = await peer_id(other)
    await page.wait_for_selector(f'#room-stage .tile[data-peer-id="{other_id}"]')

    layout = await page.evaluate(LAYOUT)
    ids = {c["id"] for c in layout["controls"]}
    assert {"control-audio", "control-video", "control-leave", "control-end"} <= ids, ids
    assert "control-screen" not in ids
    assert await page.locator("#control-screen").is_hidden()
    assert not layout["scrolls"], layout
    assert outside(layout) == [], layout
    # The site's header gave its height to the call; the stage is the widest thing on it.
    assert await page.locator(".site-header").is_hidden()
    stage = await page.locator("#room-stage").bounding_box()
    assert stage and stage["width"] >= 360 and stage["height"] >= 200, stage
    await page.screenshot(path=str(artifacts_dir / "room-phone.png"))

    # The side panel opens as a sheet over the call and closes again.
    await page.click("#control-side")
    sheet = await page.locator("#room-side").bounding_box()
    assert sheet and sheet["width"] >= 380 and sheet["y"] + sheet["height"] <= 845, sheet
    await page.click('.side-tab[data-tab="chat"]')
    await page.locator("#chat-input").wait_for()
    await page.click(".side-close")
    await page.locator("#room-side").wait_for(state="hidden")

    # On its side the call still fits.
    await page.set_viewport_size({"width": 844, "height": 390})
    await page.wait_for_function("() => innerWidth === 844")
    layout = await page.evaluate(LAYOUT)
    assert not layout["scrolls"], layout
    assert outside(layout) == [], layout
    stage = await page.locator("#room-stage").bounding_box()
    assert stage and stage["height"] >= 150, stage
