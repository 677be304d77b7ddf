"""End-to-end fixtures: the real server on 127.0.0.1 and a real headless Chromium.

The server is built by the application factory on a temporary SQLite data directory, exactly as
`telemed serve` builds it; the browser is Debian's Chromium driven through Playwright, with
Chromium's fake camera and microphone. Screenshots of every open page are written to
``test-artifacts/`` when a test fails.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from e2etools import ARTIFACTS, CHROMIUM, COMMON_ARGS, MEDIA_ARGS, Pages, World, seed
from playwright.async_api import Browser, async_playwright

from telemed.app import create_app
from telemed.settings import Settings


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """The real application on 127.0.0.1 with a chair, a specialist, a doctor and an outsider."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, host="127.0.0.1", port=8080)
    data = await seed(settings.effective_database_url)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield World(base_url=str(server.make_url("")).rstrip("/"), **data)
    finally:
        await server.close()


@pytest.fixture
def artifacts_dir() -> Path:
    """Where screenshots go (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report on the test item, for the screenshot fixture."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


@pytest.fixture
async def pages(request: pytest.FixtureRequest, artifacts_dir: Path) -> AsyncIterator[Pages]:
    """Pages opened by the test; screenshotted into test-artifacts/ if the test failed."""
    tracked = Pages()
    yield tracked
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    for label, page in tracked.items:
        if page.is_closed():
            continue
        target = artifacts_dir / f"{_slug(request.node.name)}-{_slug(label)}.png"
        try:
            await page.screenshot(path=str(target), full_page=True, timeout=5000)
        except Exception:  # noqa: BLE001  (a screenshot must never hide the real failure)
            continue


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium with a fake camera and microphone that are allowed without a prompt."""
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=MEDIA_ARGS + COMMON_ARGS
        )
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def strict_browser() -> AsyncIterator[Browser]:
    """Headless Chromium where camera and microphone permission requests are refused."""
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--use-fake-device-for-media-stream", "--deny-permission-prompts", *COMMON_ARGS],
        )
        try:
            yield b
        finally:
            await b.close()
