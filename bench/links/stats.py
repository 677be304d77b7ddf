"""Receiving-side call quality from periodic getStats() samples of one Chromium page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Sampled in the page every SAMPLE_S seconds: per remote peer, its inbound audio and video.
SAMPLE_JS = """async () => {
  const room = window.telemedRoom;
  const out = { t: performance.now() / 1000, view: room.view, peers: {} };
  for (const [peerId, pc] of room.connections()) {
    const p = { state: pc.connectionState, audio: null, video: null, availableOut: null };
    const report = await pc.getStats();
    const byId = new Map();
    report.forEach((r) => byId.set(r.id, r));
    report.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") {
        p.audio = { samples: r.totalSamplesReceived || 0, concealed: r.concealedSamples || 0,
          jbDelay: r.jitterBufferDelay || 0, jbCount: r.jitterBufferEmittedCount || 0,
          packets: r.packetsReceived || 0, lost: r.packetsLost || 0 };
      } else if (r.type === "inbound-rtp" && r.kind === "video") {
        p.video = { frames: r.framesDecoded || 0, width: r.frameWidth || 0,
          height: r.frameHeight || 0, freezes: r.freezeCount || 0,
          freezeTime: r.totalFreezesDuration || 0, bytes: r.bytesReceived || 0 };
      } else if (r.type === "transport" && r.selectedCandidatePairId) {
        const pair = byId.get(r.selectedCandidatePairId);
        if (pair) p.availableOut = pair.availableOutgoingBitrate ?? null;
      }
    });
    out.peers[peerId] = p;
  }
  out.presence = room.presence();
  return out;
}"""

SAMPLE_S = 0.25
# An interval counts as an audio gap when most of what was played out was concealment.
GAP_CONCEALED = 0.5


@dataclass
class Quality:
    """One direction of a call over a window: what the receiver heard and saw."""

    seconds: float
    concealment: float
    longest_gap_s: float
    jitter_buffer_ms: float
    fps: float
    width: int
    height: int
    freezes: int
    freeze_s: float


def _audio_intervals(samples: list[dict[str, Any]], peer: str) -> list[tuple[float, float]]:
    """(time, concealed fraction) per interval; 1.0 where nothing was played out at all."""
    out = []
    prev = None
    for s in samples:
        a = (s["peers"].get(peer) or {}).get("audio")
        if a is None:
            continue
        if prev is not None:
            played = a["samples"] - prev[1]["samples"]
            concealed = a["concealed"] - prev[1]["concealed"]
            frac = 1.0 if played <= 0 else min(1.0, concealed / played)
            out.append((s["t"], frac))
        prev = (s["t"], a)
    return out


def longest_gap(intervals: list[tuple[float, float]], start: float) -> float:
    """The longest run of consecutive gap intervals, in seconds."""
    best = run = 0.0
    last_t = start
    for t, frac in intervals:
        if frac >= GAP_CONCEALED:
            run += t - last_t
            best = max(best, run)
        else:
            run = 0.0
        last_t = t
    return best


def quality(samples: list[dict[str, Any]], peer: str, t0: float, t1: float) -> Quality | None:
    """Quality of what this page received from `peer` between page times t0 and t1."""
    window = [s for s in samples if t0 <= s["t"] <= t1 and peer in s["peers"]]
    if len(window) < 2:
        return None
    first, last = window[0]["peers"][peer], window[-1]["peers"][peer]
    seconds = window[-1]["t"] - window[0]["t"]
    a0, a1 = first.get("audio"), last.get("audio")
    v0, v1 = first.get("video"), last.get("video")
    nan = float("nan")
    conceal = gap = jb = nan
    if a0 and a1:
        played = a1["samples"] - a0["samples"]
        conceal = (a1["concealed"] - a0["concealed"]) / played if played > 0 else 1.0
        emitted = a1["jbCount"] - a0["jbCount"]
        jb = 1000 * (a1["jbDelay"] - a0["jbDelay"]) / emitted if emitted > 0 else nan
        gap = longest_gap(_audio_intervals(window, peer), window[0]["t"])
    fps = nan
    width = height = freezes = 0
    freeze_s = nan
    if v0 and v1:
        fps = (v1["frames"] - v0["frames"]) / seconds if seconds > 0 else nan
        sizes = sorted(
            (s["peers"][peer]["video"]["width"], s["peers"][peer]["video"]["height"])
            for s in window
            if s["peers"][peer].get("video")
        )
        width, height = sizes[len(sizes) // 2]
        freezes = v1["freezes"] - v0["freezes"]
        freeze_s = v1["freezeTime"] - v0["freezeTime"]
    return Quality(seconds, conceal, gap, jb, fps, width, height, freezes, freeze_s)


def recovery(samples: list[dict[str, Any]], peer: str, link_back: float) -> tuple[float, float]:
    """Seconds after the link came back until audio, and video, flowed again (NaN: never)."""
    audio_at = video_at = float("nan")
    prev = None
    for s in samples:
        p = s["peers"].get(peer)
        if p is None:
            continue
        if prev is not None and s["t"] > link_back:
            a, pa = p.get("audio"), prev.get("audio")
            if audio_at != audio_at and a and pa:
                played = a["samples"] - pa["samples"]
                concealed = a["concealed"] - pa["concealed"]
                if played > 0 and concealed / played < GAP_CONCEALED:
                    audio_at = s["t"] - link_back
            v, pv = p.get("video"), prev.get("video")
            if video_at != video_at and v and pv and v["frames"] > pv["frames"]:
                video_at = s["t"] - link_back
        prev = p
    return audio_at, video_at
