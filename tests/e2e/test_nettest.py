"""The network test page in a real Chromium against the real server's echo peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from e2etools import Pages, World, log_in, new_context, seed
from playwright.async_api import Browser, Page

from telemed.app import create_app
from telemed.settings import Settings

pytestmark = pytest.mark.slow

VERDICT_MS = 90_000


@pytest.fixture
async def one_slot_world(tmp_path: Path) -> AsyncIterator[World]:
    """The real application with a single echo slot."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, host="127.0.0.1", port=8080, echo_max_peers=1)
    data = await seed(settings.effective_database_url)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield World(base_url=str(server.make_url("")).rstrip("/"), **data)
    finally:
        await server.close()


async def open_test(browser: Browser, pages: Pages, world: World, label: str) -> Page:
    """Sign in as the doctor and open the network test page."""
    page = pages.add(label, await (await new_context(browser)).new_page())
    await log_in(page, world, world.doctor)
    await page.goto(f"{world.base_url}/network-test")
    return page


async def test_network_test_gives_a_verdict_with_figures(
    browser: Browser, pages: Pages, world: World
) -> None:
    page = await open_test(browser, pages, world, "doctor")
    await page.click("#nettest-start")
    verdict = page.locator('#nettest-verdict:not([data-verdict=""])')
    await verdict.wait_for(timeout=VERDICT_MS)
    kind = await verdict.get_attribute("data-verdict")
    # Loopback is a good link; anything but "cannot connect" means media went both ways.
    assert kind in ("video", "reduced", "audio"), await page.inner_text("#nettest-result")
    assert await verdict.inner_text()
    for figure in ("rtt_ms", "bitrate_kbps", "fps"):
        text = await page.inner_text(f'[data-figure="{figure}"]')
        assert any(ch.isdigit() for ch in text), (figure, text)

    stored = await page.request.get(f"{world.base_url}/api/v1/network-test/results")
    assert stored.ok
    results = await stored.json()
    assert len(results) == 1
    assert results[0]["verdict"] == kind
    assert results[0]["bitrate_kbps"] > 0 and results[0]["fps"] > 0
    remembered = await page.evaluate("localStorage.getItem('telemed.networkVerdict')")
    assert kind in remembered


async def test_second_test_is_told_the_server_is_busy(
    browser: Browser, pages: Pages, one_slot_world: World
) -> None:
    world = one_slot_world
    first = await open_test(browser, pages, world, "first")
    second = await open_test(browser, pages, world, "second")
    await first.click("#nettest-start")
    # The first test holds the only echo peer while it measures.
    await first.locator("#nettest-progress:not([hidden])").wait_for()
    await first.locator("#nettest-status", has_text="Đang đo").wait_for()
    await second.click("#nettest-start")
    await second.locator("#nettest-status", has_text="thử lại sau một phút").wait_for()
    assert await second.locator("#nettest-start").is_enabled()
    # The first one still finishes.
    await first.locator('#nettest-verdict:not([data-verdict=""])').wait_for(timeout=VERDICT_MS)
