"""Recording with consent in a real Chromium, and the pre-join advice from the network test.

The chair records a call with the specialist: the chair agrees, the specialist does not. The
stored recording is the chair's alone, plays with PyAV with sound and picture of about the
length recorded, and the specialist's media never reached the recorder.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import av
import pytest
from e2etools import Pages, World, join, open_room, peer_id, wait_video_from, wait_view
from playwright.async_api import Browser, Page
from sqlmodel import col, select

from records.db import create_engine, session_maker
from records.models import Attachment, AttachmentKind, RecordingConsent
from telemed.settings import Settings

pytestmark = pytest.mark.slow

RECORD_SECONDS = 5.0
STORED_WAIT_SECONDS = 30.0


async def stream_seconds(path: Path) -> dict[str, float]:
    """How long each stream of a media file runs, from its packets' timestamps."""

    def read() -> dict[str, float]:
        out: dict[str, float] = {}
        with av.open(str(path)) as container:
            streams = {s.index: s for s in container.streams if s.type in ("audio", "video")}
            first: dict[int, float] = {}
            last: dict[int, float] = {}
            for packet in container.demux(*streams.values()):
                if packet.pts is None or packet.time_base is None:
                    continue
                start = float(packet.pts * packet.time_base)
                end = start + float((packet.duration or 0) * packet.time_base)
                first[packet.stream.index] = min(first.get(packet.stream.index, start), start)
                last[packet.stream.index] = max(last.get(packet.stream.index, end), end)
            for index, stream in streams.items():
                if index in last:
                    out[stream.type] = last[index] - first[index]
        return out

    return await asyncio.to_thread(read)


async def recordings(tmp_path: Path, consultation_id: object) -> list[Attachment]:
    """The recording attachments of a consultation, read from the server's own database."""
    settings = Settings(data_dir=tmp_path / "data", host="127.0.0.1", port=8080)
    engine = create_engine(settings.effective_database_url)
    try:
        async with session_maker(engine)() as s:
            rows = await s.execute(
                select(Attachment).where(
                    Attachment.consultation_id == consultation_id,
                    Attachment.kind == AttachmentKind.recording,
                )
            )
            return list(rows.scalars())
    finally:
        await engine.dispose()


async def consents(tmp_path: Path, consultation_id: object) -> list[RecordingConsent]:
    """The stored consent decisions of a consultation, oldest first."""
    settings = Settings(data_dir=tmp_path / "data", host="127.0.0.1", port=8080)
    engine = create_engine(settings.effective_database_url)
    try:
        async with session_maker(engine)() as s:
            rows = await s.execute(
                select(RecordingConsent)
                .where(RecordingConsent.consultation_id == consultation_id)
                .order_by(col(RecordingConsent.at))
            )
            return list(rows.scalars())
    finally:
        await engine.dispose()


async def stored_recordings(
    tmp_path: Path, consultation_id: object, count: int
) -> list[Attachment]:
    """Wait until the server has stored `count` recordings of the consultation (not more)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STORED_WAIT_SECONDS
    stored = await recordings(tmp_path, consultation_id)
    while len(stored) < count and loop.time() < deadline:
        await asyncio.sleep(0.5)
        stored = await recordings(tmp_path, consultation_id)
    assert len(stored) == count, [a.meta for a in stored]
    return stored


async def indicator_shown(page: Page) -> bool:
    """Whether the red recording indicator is on screen."""
    return await page.locator("#room-recording .rec-dot").is_visible()


async def wait_sending_to_recorder(page: Page) -> None:
    """Wait until this page's audio and video flow to the recorder."""
    await page.wait_for_function(
        """async () => {
            const sent = await window.telemedRoom.recorderBytesSent();
            return window.telemedRoom.recording().recorder === "connected"
                && sent.audio > 0 && sent.video > 0;
        }""",
        polling=250,
    )


async def meet(browser: Browser, pages: Pages, world: World) -> tuple[Page, Page, str, str]:
    """The chair and the specialist in one call, the chair seeing the specialist's video."""
    chair = await open_room(browser, pages, world, world.chair, world.open_room, label="chair")
    await join(chair)
    await wait_view(chair, "call")
    guest = await open_room(browser, pages, world, world.specialist, world.open_room, label="guest")
    await join(guest)
    await wait_view(guest, "call")
    chair_id, guest_id = await peer_id(chair), await peer_id(guest)
    await wait_video_from(chair, guest_id)
    return chair, guest, chair_id, guest_id


async def test_recording_keeps_only_those_who_agreed(
    browser: Browser, pages: Pages, world: World, tmp_path: Path, artifacts_dir: Path
) -> None:
    chair, guest, chair_id, guest_id = await meet(browser, pages, world)
    # Only the chair has a Record button.
    assert await guest.locator("#control-record").count() == 0
    assert not await indicator_shown(chair)

    await chair.click("#control-record")
    for page in (chair, guest):
        await page.locator("#consent-prompt").wait_for(state="visible")
        await page.locator("#room-recording").wait_for(state="visible")
        assert "Đang ghi hình" in await page.inner_text("#room-recording")
    assert "Chủ tọa bắt đầu ghi hình" in await guest.inner_text("#consent-title")
    await guest.screenshot(path=str(artifacts_dir / "room-recording-consent.png"))

    await chair.click("#consent-accept")
    await guest.click("#consent-decline")
    # The chair's media reaches the recorder; the specialist sends it nothing at all.
    await wait_sending_to_recorder(chair)
    # Everyone sees who agreed and who did not.
    await chair.click('.side-tab[data-tab="people"]')
    declined = chair.locator(f'#people-list .person[data-peer-id="{guest_id}"] .person-consent')
    await declined.wait_for()
    assert await declined.get_attribute("data-consent") == "declined"
    await guest.click('.side-tab[data-tab="people"]')
    agreed = guest.locator(f'#people-list .person[data-peer-id="{chair_id}"] .person-consent')
    await agreed.wait_for()
    assert await agreed.get_attribute("data-consent") == "accepted"
    assert "không được ghi" in await guest.inner_text("#recording-mine")

    await asyncio.sleep(RECORD_SECONDS)
    # Still recording, still shown on both sides; the decliner never opened a connection.
    for page in (chair, guest):
        assert await indicator_shown(page)
    assert (await guest.evaluate("window.telemedRoom.recording()"))["recorder"] is None
    assert await guest.evaluate("window.telemedRoom.recorderBytesSent()") == {
        "audio": 0,
        "video": 0,
    }
    await chair.screenshot(path=str(artifacts_dir / "room-recording-chair.png"))

    await chair.click("#control-record")
    for page in (chair, guest):
        await page.locator("#room-recording").wait_for(state="hidden")
    assert (await chair.evaluate("window.telemedRoom.recording()"))["recorder"] is None

    # The finished file is stored as an attachment of the consultation's case.
    (attachment,) = await stored_recordings(tmp_path, world.open_room.id, 1)
    assert attachment.meta["participant"]["user_id"] == str(world.chair.user.id)
    assert attachment.meta["audio"] and attachment.meta["video"]
    participants = {p["user_id"] for p in attachment.meta["participants"]}
    assert str(world.specialist.user.id) not in participants

    # It downloads through the route the consultation page plays it from, and plays.
    resp = await chair.request.get(f"{world.base_url}/api/v1/attachments/{attachment.id}")
    assert resp.ok, await resp.text()
    path = tmp_path / "recording.mp4"
    path.write_bytes(await resp.body())
    seconds = await stream_seconds(path)
    assert set(seconds) == {"audio", "video"}, seconds
    for kind, value in seconds.items():
        # Recorded from the moment the chair's link was up until the stop: about 5 s, plus
        # the time the test took to check the screens.
        assert RECORD_SECONDS - 1.5 <= value <= RECORD_SECONDS + 8, (kind, seconds)

    decisions = [(c.user_id, c.accept) for c in await consents(tmp_path, world.open_room.id)]
    assert (world.chair.user.id, True) in decisions
    assert (world.specialist.user.id, False) in decisions

    # The consultation page plays it.
    await chair.goto(f"{world.base_url}/consultations/{world.open_room.id}")
    player = chair.locator(f'video.recording-player[src="/api/v1/attachments/{attachment.id}"]')
    await player.wait_for()
    await chair.wait_for_function(
        "sel => document.querySelector(sel).readyState >= 1",
        arg=f'video[src="/api/v1/attachments/{attachment.id}"]',
    )
    await chair.screenshot(path=str(artifacts_dir / "consultation-recordings.png"), full_page=True)


async def test_a_failing_recorder_is_shown_and_consent_can_be_withdrawn(
    browser: Browser, pages: Pages, world: World, tmp_path: Path
) -> None:
    chair, guest, _chair_id, guest_id = await meet(browser, pages, world)

    # Storage the recorder cannot write to: the chair is told, nobody is shown as recorded.
    blocker = tmp_path / "data" / "recordings"
    blocker.write_text("not a directory")
    await chair.click("#control-record")
    alert = chair.locator("#recording-alert")
    await alert.wait_for(state="visible")
    assert "Máy ghi hình gặp lỗi" in await alert.inner_text()
    assert await chair.is_enabled("#control-record")
    for page in (chair, guest):
        assert not await indicator_shown(page)
    blocker.unlink()
    await alert.locator("button").click()
    await alert.wait_for(state="hidden")

    # Both agree; then the specialist changes their mind while recording goes on.
    await chair.click("#control-record")
    for page in (chair, guest):
        await page.locator("#consent-prompt").wait_for(state="visible")
        await page.click("#consent-accept")
        await wait_sending_to_recorder(page)
    await asyncio.sleep(RECORD_SECONDS / 2)
    await guest.click("#recording-change")
    await guest.click("#consent-decline")
    await guest.wait_for_function("() => window.telemedRoom.recording().recorder === null")
    await chair.click('.side-tab[data-tab="people"]')
    await chair.locator(
        f'#people-list .person[data-peer-id="{guest_id}"] .person-consent[data-consent="declined"]'
    ).wait_for()
    assert await indicator_shown(guest)
    await asyncio.sleep(RECORD_SECONDS / 2)
    await chair.click("#control-record")
    await guest.locator("#room-recording").wait_for(state="hidden")

    # Two files: the specialist's ends where consent was withdrawn, the chair's runs on.
    stored = await stored_recordings(tmp_path, world.open_room.id, 2)
    by_user = {a.meta["participant"]["user_id"]: a for a in stored}
    chair_file = by_user[str(world.chair.user.id)]
    guest_file = by_user[str(world.specialist.user.id)]
    for a in (chair_file, guest_file):
        assert a.meta["audio"] and a.meta["video"], a.meta
    assert guest_file.meta["duration"] < chair_file.meta["duration"] - 1, (
        guest_file.meta,
        chair_file.meta,
    )


async def test_prejoin_follows_the_last_network_test(
    browser: Browser, pages: Pages, world: World
) -> None:
    page = await open_room(browser, pages, world, world.doctor, world.open_room, label="doctor")
    link = page.locator("#prejoin-nettest")
    href = await link.get_attribute("href")
    assert href is not None and href.startswith("/network-test?next=")
    assert "Bạn chưa kiểm tra đường truyền" in await page.inner_text("#prejoin-network-note")
    assert not await page.is_checked("#prejoin-lowbw")

    # What the network test page leaves behind after an "audio only" verdict.
    verdict = json.dumps({"verdict": "audio", "at": "2026-11-29T03:15:00Z"})
    await page.evaluate(
        """(v) => { localStorage.setItem("telemed.lowBandwidth", "1");
                    localStorage.setItem("telemed.networkVerdict", v); }""",
        verdict,
    )
    await page.reload()
    await page.wait_for_function("() => window.telemedRoom !== undefined")
    note = await page.inner_text("#prejoin-network-note")
    assert "chỉ đủ cho âm thanh" in note
    assert await page.is_checked("#prejoin-lowbw")
    assert await page.is_checked("#prejoin-audio-only")

    await join(page)
    await wait_view(page, "call")
    await page.wait_for_selector('#control-audio-only[aria-pressed="true"]')
    await page.wait_for_selector('#control-lowbw[aria-pressed="true"]')
