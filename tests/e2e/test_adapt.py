"""Adaptation for thin links in a real Chromium call: Opus with redundancy negotiated, the
audio sender above video, the camera keeping its frame rate; and the switch that turns it off
for the link harness's "before" figures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from e2etools import Pages, World, join, open_room, peer_id, wait_video_from, wait_view
from playwright.async_api import Browser, Page

pytestmark = pytest.mark.slow

SENDING = r"""async () => {
  const out = [];
  for (const [peerId, pc] of window.telemedRoom.connections()) {
    // The negotiated audio codec: the first payload of the answer's audio section (getStats
    // names the codec inside RED, not RED itself).
    const desc = pc.currentRemoteDescription && pc.currentLocalDescription;
    const answer = pc.currentLocalDescription.type === "answer"
      ? pc.currentLocalDescription.sdp : pc.currentRemoteDescription.sdp;
    const audioLine = answer.split("\r\n").find((l) => l.startsWith("m=audio"));
    const first = audioLine ? audioLine.split(" ")[3] : null;
    const rtpmap = answer.split("\r\n").find((l) => l.startsWith(`a=rtpmap:${first} `));
    const audioCodec = desc && rtpmap ? "audio/" + rtpmap.split(" ")[1].split("/")[0] : null;
    const senders = pc.getSenders();
    const audio = senders.find((s) => s.track && s.track.kind === "audio");
    const video = senders.find((s) => s.track && s.track.kind === "video");
    const a = audio.getParameters();
    const v = video.getParameters();
    out.push({
      peerId,
      audioCodec,
      audioPriority: a.encodings[0].priority,
      audioNetworkPriority: a.encodings[0].networkPriority,
      videoPriority: v.encodings[0].priority,
      degradation: v.degradationPreference ?? null,
    });
  }
  return out;
}"""


async def _call(browser: Browser, pages: Pages, world: World, *, adapt: bool) -> list[Page]:
    out = []
    for person, label in ((world.chair, "chair"), (world.specialist, "guest")):
        page = await open_room(browser, pages, world, person, world.open_room, label=label)
        if not adapt:
            await page.context.add_init_script("window.telemedAdapt = false;")
            await page.reload()
            await page.wait_for_function("() => window.telemedRoom !== undefined")
        await join(page)
        await wait_view(page, "call")
        out.append(page)
    chair, guest = out
    await wait_video_from(chair, await peer_id(guest))
    await wait_video_from(guest, await peer_id(chair))
    return out


async def _sending(page: Page) -> dict[str, Any]:
    for _ in range(120):
        links = await page.evaluate(SENDING)
        if links and links[0]["audioCodec"] and links[0]["audioPriority"]:
            break
        await asyncio.sleep(0.25)
    [link] = links
    return dict(link)


async def test_audio_goes_first_and_the_camera_keeps_its_frame_rate(
    browser: Browser, pages: Pages, world: World
) -> None:
    for page in await _call(browser, pages, world, adapt=True):
        link = await _sending(page)
        assert link["audioCodec"] == "audio/red", link
        assert link["audioPriority"] == "high" and link["audioNetworkPriority"] == "high"
        assert link["videoPriority"] == "low"
        assert link["degradation"] == "maintain-framerate"


async def test_the_harness_can_switch_adaptation_off(
    browser: Browser, pages: Pages, world: World
) -> None:
    for page in await _call(browser, pages, world, adapt=False):
        link = await _sending(page)
        assert link["audioCodec"] == "audio/opus", link
        assert link["audioPriority"] == "low"
        assert link["degradation"] in (None, "balanced")
