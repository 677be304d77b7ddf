"""A session's recordings reviewed in a real Chromium: they play together on one clock, seeking
moves every tile, each is named by participant and time, and the consent decisions are listed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from e2etools import Pages, World, log_in, new_context

from records.blobs import BlobStore
from records.db import create_engine, session_maker
from records.models import RecordingConsent
from records.models.base import utcnow
from records.services import attachments
from telemed.settings import Settings

pytestmark = pytest.mark.slow

SECONDS = 6
LATER = 2.0  # the second participant's recording starts this much later


def write_mp4(path: Path, seconds: int, shade: int) -> None:
    """A small H.264 file like the recorder's, of one colour."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        stream.time_base = Fraction(1, 10)
        frame_data = np.full((90, 160, 3), shade, dtype=np.uint8)
        for n in range(seconds * 10):
            frame = av.VideoFrame.from_ndarray(frame_data, format="rgb24")
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


async def store_two_recordings(tmp_path: Path, world: World) -> None:
    """Two participants' recordings of the open session, through the records' own service."""
    settings = Settings(data_dir=tmp_path / "data", host="127.0.0.1", port=8080)
    engine = create_engine(settings.effective_database_url)
    start = utcnow() - timedelta(minutes=3)
    people = [(world.chair, 0.0, 60), (world.specialist, LATER, 200)]
    try:
        for person, offset, shade in people:
            path = tmp_path / f"{person.username}.mp4"
            await asyncio.to_thread(write_mp4, path, SECONDS, shade)
            began = start + timedelta(seconds=offset)
            meta = {
                "duration": float(SECONDS),
                "participant": {"user_id": str(person.user.id), "name": person.name},
                "started": began.isoformat(),
                "ended": (began + timedelta(seconds=SECONDS)).isoformat(),
                "audio": False,
                "video": True,
            }
            async with session_maker(engine)() as s:
                await attachments.store_recording(
                    session=s,
                    blobs=BlobStore(settings.blob_dir),
                    consultation_id=world.open_room.id,
                    path=path,
                    content_type="video/mp4",
                    meta=meta,
                )
        async with session_maker(engine)() as s:
            s.add(RecordingConsent(consultation_id=world.open_room.id,
                                   user_id=world.chair.user.id, accept=True, at=start))
            s.add(RecordingConsent(consultation_id=world.open_room.id,
                                   user_id=world.doctor.user.id, accept=False, at=start))
            await s.commit()
    finally:
        await engine.dispose()


async def test_recordings_play_together_and_seek_together(
    browser: object, pages: Pages, world: World, tmp_path: Path, artifacts_dir: Path
) -> None:
    await store_two_recordings(tmp_path, world)
    ctx = await new_context(browser)  # type: ignore[arg-type]
    page = pages.add("chair", await ctx.new_page())
    await log_in(page, world, world.chair)
    await page.goto(f"{world.base_url}/consultations/{world.open_room.id}")
    tiles = page.locator("#sync-player .sync-tile")
    assert await tiles.count() == 2
    # Named by participant and time, earliest first; downloads have names of their own.
    names = await page.locator(".sync-name").all_inner_texts()
    assert names == [world.chair.name, world.specialist.name]
    downloads = await page.locator(".sync-download").evaluate_all(
        "els => els.map((a) => a.getAttribute('download'))"
    )
    assert len(set(downloads)) == 2, downloads
    assert all(d.startswith("ghi-hinh-") and d.endswith(".mp4") for d in downloads), downloads
    assert "le-thi-hoa" in downloads[0] and "pham-quoc-minh" in downloads[1], downloads
    # The consent decisions beside them.
    consents = page.locator("#consents li")
    assert await consents.count() == 2
    assert await page.locator(
        f'#consents li[data-consent="declined"]:has-text("{world.doctor.name}")').count() == 1

    await page.wait_for_function(
        "() => [...document.querySelectorAll('#sync-player video')].every((v) => v.readyState >= 1)"
    )
    # Seek the one clock to 4 s: the first is 4 s in, the second (2 s later) 2 s in.
    await page.evaluate("window.telemedPlayer.seekTo(4)")
    times = await page.eval_on_selector_all(
        "#sync-player video", "vs => vs.map((v) => v.currentTime)"
    )
    assert abs(times[0] - 4) < 0.3 and abs(times[1] - (4 - LATER)) < 0.3, times
    # Before the second one began, its tile waits while the first plays on.
    await page.locator("#sync-seek").fill("1")
    await page.wait_for_function(
        "() => document.querySelectorAll('.sync-tile')[1].classList.contains('is-idle')"
    )
    # Play: both run from the clock, still the same distance apart.
    await page.evaluate("window.telemedPlayer.seekTo(2.5)")
    await page.click("#sync-play")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#sync-player video')].every((v) => !v.paused)"
    )
    await page.wait_for_function("() => window.telemedPlayer.time > 3.5")
    times = await page.eval_on_selector_all(
        "#sync-player video", "vs => vs.map((v) => v.currentTime)"
    )
    assert abs((times[0] - times[1]) - LATER) < 0.5, times
    await page.click("#sync-play")
    section = page.locator('section[aria-labelledby="recordings-title"]')
    await section.screenshot(path=str(artifacts_dir / "recordings-playback.png"))
