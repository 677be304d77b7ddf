// Connection quality from RTCPeerConnection.getStats(): round-trip time, loss, bitrates.
// No DOM code here.

/** Quality levels, best first. */
export const LEVELS = ["good", "fair", "poor", "bad"];

/** The level for a round-trip time (ms) and a loss fraction (0..1). */
export function classify(rttMs, loss) {
  if (rttMs == null && loss == null) return "unknown";
  const rtt = rttMs ?? 0;
  const lost = loss ?? 0;
  if (rtt < 300 && lost < 0.02) return "good";
  if (rtt < 600 && lost < 0.08) return "fair";
  if (rtt < 1200 && lost < 0.2) return "poor";
  return "bad";
}

/**
 * Samples one connection; keep the returned object and pass it back as `prev` next time so
 * bitrates and loss are measured over the interval rather than since the start.
 */
export async function sample(pc, prev = null) {
  const report = await pc.getStats();
  const now = performance.now();
  const s = {
    at: now,
    rttMs: null,
    availableOut: null,
    inBytes: 0,
    outBytes: 0,
    received: 0,
    lost: 0,
    framesDecoded: 0,
    inVideoBitrate: null,
    inBitrate: null,
    outBitrate: null,
    loss: null,
    quality: "unknown",
  };
  let remoteRtt = null;
  // The pair in use: the transport names it (Chromium); Firefox marks it `selected`.
  const selectedIds = new Set();
  report.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId) selectedIds.add(r.selectedCandidatePairId);
  });
  const inUse = (r) => (selectedIds.size ? selectedIds.has(r.id) : r.selected || r.nominated);
  report.forEach((r) => {
    if (r.type === "candidate-pair" && r.state === "succeeded" && inUse(r)) {
      if (r.currentRoundTripTime != null) s.rttMs = r.currentRoundTripTime * 1000;
      if (r.availableOutgoingBitrate != null) s.availableOut = r.availableOutgoingBitrate;
    } else if (r.type === "inbound-rtp") {
      s.inBytes += r.bytesReceived || 0;
      s.received += r.packetsReceived || 0;
      s.lost += Math.max(0, r.packetsLost || 0);
      if (r.kind === "video") {
        s.framesDecoded += r.framesDecoded || 0;
        s.inVideoBytes = (s.inVideoBytes || 0) + (r.bytesReceived || 0);
      }
    } else if (r.type === "outbound-rtp") {
      s.outBytes += r.bytesSent || 0;
    } else if (r.type === "remote-inbound-rtp" && r.roundTripTime != null) {
      remoteRtt = Math.max(remoteRtt ?? 0, r.roundTripTime * 1000);
    }
  });
  if (s.rttMs == null) s.rttMs = remoteRtt;
  if (prev) {
    const dt = (now - prev.at) / 1000;
    if (dt > 0) {
      s.inBitrate = Math.max(0, ((s.inBytes - prev.inBytes) * 8) / dt);
      s.outBitrate = Math.max(0, ((s.outBytes - prev.outBytes) * 8) / dt);
      s.inVideoBitrate = Math.max(0, (((s.inVideoBytes || 0) - (prev.inVideoBytes || 0)) * 8) / dt);
    }
    const got = s.received - prev.received;
    const lost = s.lost - prev.lost;
    if (got + lost > 0) s.loss = Math.max(0, lost) / (got + lost);
  } else if (s.received + s.lost > 0) {
    s.loss = s.lost / (s.received + s.lost);
  }
  s.quality = pc.connectionState === "connected" ? classify(s.rttMs, s.loss) : "unknown";
  return s;
}

/** Human-readable figures for a tooltip: "RTT 120 ms · mất gói 0.5% · ↓ 450 kbit/s · ↑ 600 kbit/s". */
export function describe(s, labels) {
  if (!s) return "";
  const parts = [];
  if (s.rttMs != null) parts.push(`${labels.rtt} ${Math.round(s.rttMs)} ms`);
  if (s.loss != null) parts.push(`${labels.loss} ${(s.loss * 100).toFixed(1)}%`);
  if (s.inBitrate != null) parts.push(`↓ ${Math.round(s.inBitrate / 1000)} kbit/s`);
  if (s.outBitrate != null) parts.push(`↑ ${Math.round(s.outBitrate / 1000)} kbit/s`);
  return parts.join(" · ");
}

/** Whether the uplink looks unable to carry video (used to suggest or switch to audio-only). */
export function tooWeakForVideo(s) {
  if (!s || s.quality === "unknown") return false;
  if (s.availableOut != null && s.availableOut < 100000) return true;
  return s.quality === "bad";
}

/** Speaking level (0..1) of a remote peer from its audio receiver (Chromium and Firefox). */
export function receiverLevel(receiver) {
  if (!receiver || !receiver.getSynchronizationSources) return 0;
  const sources = receiver.getSynchronizationSources();
  let level = 0;
  for (const src of sources) {
    // Ignore stale sources: a peer who stopped talking keeps its last value otherwise.
    if (performance.timeOrigin + performance.now() - src.timestamp < 1000) {
      level = Math.max(level, src.audioLevel || 0);
    }
  }
  return level;
}
