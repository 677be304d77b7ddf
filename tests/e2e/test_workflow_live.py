"""The workflow in a real Chromium: an emergency request reaches the coordinator's open page
without a reload, scheduling sends e-mails to a real SMTP server, a reload in the call keeps
an admitted doctor in the room, and the chair sends a participant to the lobby and back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from e2etools import (
    Pages,
    World,
    join,
    log_in,
    new_context,
    open_room,
    peer_id,
    seed,
    wait_video_from,
    wait_view,
)
from mailtools import Inbox, free_port, smtp_server
from playwright.async_api import Browser, Page

from records.db import create_engine
from records.models import User
from telemed.app import create_app
from telemed.settings import Settings

pytestmark = pytest.mark.slow
PATIENT = "Nguyễn Thị Lan"


@dataclass
class MailWorld:
    """The e2e world with e-mail sent to a real SMTP server in the test process."""

    world: World
    inbox: Inbox


@pytest.fixture
async def mail_world(tmp_path: Path) -> AsyncIterator[MailWorld]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    settings = Settings(
        data_dir=data_dir, host="127.0.0.1", port=8080, smtp_host="127.0.0.1", smtp_port=port,
        smtp_from="hoichan@benhvien.vn", smtp_security="none", mail_retry_seconds=0.2,
    )
    data = await seed(settings.effective_database_url)
    engine = create_engine(settings.effective_database_url)
    async with engine.begin() as conn:
        await conn.execute(sa.update(User).values(email=User.username + "@benhvien.vn"))
    await engine.dispose()
    with smtp_server(port) as inbox:
        server = TestServer(create_app(settings), host="127.0.0.1")
        await server.start_server()
        try:
            yield MailWorld(World(base_url=str(server.make_url("")).rstrip("/"), **data), inbox)
        finally:
            await server.close()


async def signed_in(browser: Browser, pages: Pages, world: World, who: str) -> Page:
    """A new browser profile signed in as one of the world's people."""
    page = pages.add(who, await (await new_context(browser)).new_page())
    await log_in(page, world, getattr(world, who))
    return page


REQUEST_SCRIPT = """async ([hostId, patient]) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const call = async (path, body) => {
    const headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf};
    const r = await fetch(path, {method: "POST", credentials: "same-origin", headers,
      body: JSON.stringify(body)});
    if (!r.ok) throw new Error(path + " " + r.status + " " + await r.text());
    return r.json();
  };
  const p = await call("/api/v1/patients", {mrn: "BN-CC-1", full_name: patient, sex: "female",
    birth_year: 1958});
  const c = await call("/api/v1/cases", {patient_id: p.id, title: "Đau ngực dữ dội",
    specialty: "Tim mạch", urgency: "emergency"});
  const r = await call("/api/v1/consultations", {title: "Hội chẩn: " + patient,
    case_ids: [c.id], host_facility_id: hostId});
  return r.id;
}"""


async def test_an_emergency_request_reaches_the_coordinator_and_scheduling_mails(
    browser: Browser, pages: Pages, mail_world: MailWorld
) -> None:
    world, inbox = mail_world.world, mail_world.inbox
    coordinator = await signed_in(browser, pages, world, "chair")
    await coordinator.goto(f"{world.base_url}/")
    await coordinator.wait_for_function("() => document.body.dataset.unread === '0'")
    doctor = await signed_in(browser, pages, world, "doctor")
    host_id = str(world.room.host_facility_id)
    cid = await doctor.evaluate(REQUEST_SCRIPT, [host_id, PATIENT])
    # Pushed to the open page at once: a toast marked emergency and the bell's count.
    toast = coordinator.locator(".live-toast.is-emergency")
    await toast.wait_for(timeout=2000)
    assert "CẤP CỨU" in await toast.inner_text()
    assert await coordinator.inner_text("#bell-count") == "1"
    # The coordinator schedules it with the specialist, from the scheduling page.
    await coordinator.goto(f"{world.base_url}/consultations/{cid}/schedule")
    await coordinator.check(f'input[name="invitees"][value="{world.specialist.user.id}"]')
    async with coordinator.expect_navigation():
        await coordinator.click('button[name="action"][value="save"]')
    assert f"/consultations/{cid}" in coordinator.url

    async def mailed() -> None:
        while not any(m["To"] == "chuyengia@benhvien.vn" for m in inbox.messages):
            await asyncio.sleep(0.1)

    await asyncio.wait_for(mailed(), 30)
    invited = next(m for m in inbox.messages if m["To"] == "chuyengia@benhvien.vn")
    text = str(invited["Subject"]) + invited.get_content()
    assert "Bạn được mời tham gia phiên hội chẩn" in text and "Chơn Thành" in text
    assert f"/consultations/{cid}" in text
    for message in inbox.messages:
        assert PATIENT not in str(message["Subject"]) + message.get_content()


async def test_a_reload_in_the_call_keeps_the_doctor_in_the_room(
    browser: Browser, pages: Pages, world: World
) -> None:
    chair = await open_room(browser, pages, world, world.chair, world.room, label="chair")
    await join(chair)
    await wait_view(chair, "call")
    doctor = await open_room(browser, pages, world, world.doctor, world.room, label="doctor")
    await join(doctor)
    await wait_view(doctor, "lobby")
    await chair.click('.side-tab[data-tab="lobby"]')
    waiting = chair.locator("#lobby-list .person", has_text=world.doctor.name)
    await waiting.locator('[data-action="admit"]').click()
    await wait_view(doctor, "call")
    chair_id = await peer_id(chair)
    await wait_video_from(doctor, chair_id)
    # The doctor reloads: back in the call without waiting in the lobby again.
    await doctor.reload()
    await doctor.wait_for_function("() => window.telemedRoom !== undefined")
    await join(doctor)
    await wait_view(doctor, "call")
    await wait_video_from(doctor, chair_id)
    assert await chair.locator("#lobby-list .person").count() == 0


async def test_the_chair_sends_a_participant_to_the_lobby_and_back(
    browser: Browser, pages: Pages, world: World
) -> None:
    chair = await open_room(browser, pages, world, world.chair, world.open_room, label="chair")
    await join(chair)
    await wait_view(chair, "call")
    guest = await open_room(browser, pages, world, world.specialist, world.open_room, label="guest")
    await join(guest)
    await wait_view(guest, "call")
    guest_id = await peer_id(guest)
    await wait_video_from(chair, guest_id)
    await chair.click('.side-tab[data-tab="people"]')
    person = chair.locator(f'#people-list .person[data-peer-id="{guest_id}"]')
    await person.locator('[data-action="to-lobby"]').click()
    await wait_view(guest, "lobby")
    notice = guest.locator("#room-lobby-deliberation")
    await notice.wait_for(state="visible")
    assert "hội ý" in await notice.inner_text()
    await chair.wait_for_selector(f'.tile[data-peer-id="{guest_id}"]', state="detached")
    assert await guest.evaluate("window.telemedRoom.connections().length") == 0
    # Brought back from the lobby panel: the same person, media flowing again.
    await chair.click('.side-tab[data-tab="lobby"]')
    await chair.locator("#lobby-list .person", has_text=world.specialist.name).locator(
        '[data-action="admit"]'
    ).click()
    await wait_view(guest, "call")
    await wait_video_from(chair, guest_id)
    await wait_video_from(guest, await peer_id(chair))
