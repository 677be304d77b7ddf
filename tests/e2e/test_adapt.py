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
        script = None if adapt else "window.telemedAdapt = false;"
        page = await open_room(
            browser, pages, world, person, world.open_room, label=label, init_script=script
        )
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


# The link as the page's statistics report it: `window.fakeLink = {rtt, out}` (seconds, bit/s)
# replaces the round trip and the estimated uplink of the pair in use; null leaves the real one
# (loopback: good). The call itself is real; only what getStats says about the link is not.
FAKE_LINK = """
window.telemedLadder = {weakRounds: 2, strongRounds: 3, relapseRounds: 4};
window.fakeLink = null;
const realGetStats = RTCPeerConnection.prototype.getStats;
RTCPeerConnection.prototype.getStats = async function (...args) {
  const report = await realGetStats.apply(this, args);
  if (!window.fakeLink) return report;
  const out = new Map();
  report.forEach((r, key) => {
    out.set(key, r.type === "candidate-pair"
      ? {...r, currentRoundTripTime: window.fakeLink.rtt,
         availableOutgoingBitrate: window.fakeLink.out}
      : r);
  });
  return out;
};
"""

MODES = "[window.telemedRoom.lowBandwidth, window.telemedRoom.audioOnly]"


async def _modes(page: Page, want: list[bool], timeout: float = 40) -> None:
    for _ in range(int(timeout * 4)):
        if await page.evaluate(MODES) == want:
            return
        await asyncio.sleep(0.25)
    assert await page.evaluate(MODES) == want


async def test_a_weak_link_steps_down_and_a_steady_one_brings_video_back(
    browser: Browser, pages: Pages, world: World
) -> None:
    chair = await open_room(browser, pages, world, world.chair, world.open_room, label="chair")
    await join(chair)
    await wait_view(chair, "call")
    guest = await open_room(
        browser,
        pages,
        world,
        world.specialist,
        world.open_room,
        label="guest",
        init_script=FAKE_LINK,
    )
    await join(guest)
    await wait_view(guest, "call")
    await wait_video_from(chair, await peer_id(guest))
    toast = guest.locator("#room-toast")

    # Too weak for video: low bandwidth first, then audio only, each announced.
    await guest.evaluate("window.fakeLink = {rtt: 1.5, out: 60000}")
    await _modes(guest, [True, False])
    await _modes(guest, [True, True])
    assert "chỉ âm thanh" in await toast.inner_text()
    # Steady again: the steps the page took are undone one at a time, each announced.
    await guest.evaluate("window.fakeLink = null")
    await _modes(guest, [True, False])
    assert "đã bật lại hình" in await toast.inner_text()
    await _modes(guest, [False, False])
    assert "đã tắt chế độ băng thông thấp" in await toast.inner_text()
    await wait_video_from(chair, await peer_id(guest))

    # A choice of the person's own stays, however good the link.
    await guest.click("#control-audio-only")
    await _modes(guest, [False, True], timeout=5)
    await asyncio.sleep(10)  # more than three good rounds of 2 s
    assert await guest.evaluate(MODES) == [False, True]


LADDER = """async () => {
  const main = document.querySelector('script[src*="room/main.js"]').src;
  const { Ladder } = await import(main.replace("room/main.js", "room/ladder.js"));
  const ladder = new Ladder({weakRounds: 2, strongRounds: 3, maxStrongRounds: 12,
                             relapseRounds: 5});
  const run = (weak, good, rounds) => {
    const seen = [];
    for (let i = 0; i < rounds; i += 1) {
      const step = ladder.observe({weak, good});
      if (step) seen.push(step);
      if (step === "down") ladder.steppedDown();
      if (step === "up") ladder.steppedUp();
    }
    return seen.join(",");
  };
  return [
    run(false, true, 6),   // nothing to undo: a good link changes nothing
    run(true, false, 2),   // down
    ladder.wait,
    run(false, true, 3),   // up after 3 good rounds
    run(true, false, 2),   // down again soon after: a relapse doubles the wait
    ladder.wait,
    run(false, true, 5),   // not yet
    run(false, true, 1),   // up after 6
    run(false, true, 30),  // all undone: nothing more
    run(true, false, 2), run(true, false, 2), ladder.steps,  // two steps down
    run(false, true, 12), ladder.steps,  // both undone, one wait apart
  ];
}"""


async def test_the_ladder_backs_off_after_a_relapse(
    browser: Browser, pages: Pages, world: World
) -> None:
    page = await open_room(browser, pages, world, world.chair, world.open_room, label="chair")
    assert await page.evaluate(LADDER) == [
        "",
        "down",
        3,
        "up",
        "down",
        6,
        "",
        "up",
        "",
        "down",
        "down",
        2,
        "up,up",
        0,
    ]
