"""An end by mistake undone in a real Chromium: the chair reopens the session from the ended
screen and everyone is brought back into the room."""

from __future__ import annotations

import pytest
from e2etools import Pages, World, join, open_room, peer_id, wait_view
from playwright.async_api import Browser, Dialog

pytestmark = pytest.mark.slow

REOPEN_AGAIN = """async () => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const config = JSON.parse(document.getElementById("room-config").textContent);
    const resp = await fetch(config.reopenUrl, {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
    });
    return { status: resp.status, body: await resp.json() };
}"""


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()


async def test_the_chair_reopens_and_everyone_comes_back(
    browser: Browser, pages: Pages, world: World
) -> None:
    chair = await open_room(browser, pages, world, world.chair, world.open_room, label="chair")
    await join(chair)
    await wait_view(chair, "call")
    guest = await open_room(browser, pages, world, world.specialist, world.open_room, label="guest")
    await join(guest)
    await wait_view(guest, "call")
    guest_id = await peer_id(guest)
    await chair.wait_for_function(
        "id => window.telemedRoom.peers().some((p) => p.peer_id === id)", arg=guest_id
    )

    chair.on("dialog", _accept)
    await chair.click("#control-end")
    for page in (chair, guest):
        await wait_view(page, "ended")
    # The ended screen says it may be undone, to the chair only.
    await chair.locator("#room-reopen").wait_for()
    assert "mở lại phiên" in (await chair.inner_text("#room-reopen-note"))
    assert await guest.locator("#room-reopen").is_hidden()

    # The consultation's page offers it too.
    detail = pages.add("detail", await chair.context.new_page())
    await detail.goto(f"{world.base_url}/consultations/{world.open_room.id}")
    assert await detail.locator('form[action$="/reopen"] button').is_visible()
    await detail.close()

    await chair.click("#room-reopen-button")
    # Both pages go back into the call by themselves and meet again.
    for page in (chair, guest):
        await wait_view(page, "call")
    new_guest = await peer_id(guest)
    await chair.wait_for_function(
        "id => window.telemedRoom.peers().some((p) => p.peer_id === id)", arg=new_guest
    )

    # Reopening what is not ended is refused, in Vietnamese.
    refused = await chair.evaluate(REOPEN_AGAIN)
    assert refused["status"] == 409, refused
    assert "chưa kết thúc" in refused["body"]["error"]["message"]
