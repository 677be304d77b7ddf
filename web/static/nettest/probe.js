// The network test itself, free of DOM code: connect to the server's echo peer, let media
// flow both ways for a while, and measure what came back with getStats().

const GATHER_MS = 5000;
const CONNECT_MS = 15000;

export class EchoBusyError extends Error {}

async function postJson(url, body, csrf) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  if (response.status === 503) throw new EchoBusyError();
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error((data.error && data.error.message) || `HTTP ${response.status}`);
  }
  return response.status === 204 ? null : response.json();
}

function gathered(pc) {
  // The echo answers over HTTP, so the offer carries every candidate (no trickling).
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, GATHER_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") done();
    });
  });
}

function connected(pc) {
  return new Promise((resolve) => {
    const check = () => {
      if (pc.connectionState === "connected") finish(true);
      else if (pc.connectionState === "failed" || pc.connectionState === "closed") finish(false);
    };
    const timer = setTimeout(() => finish(false), CONNECT_MS);
    function finish(ok) {
      clearTimeout(timer);
      pc.removeEventListener("connectionstatechange", check);
      resolve(ok);
    }
    pc.addEventListener("connectionstatechange", check);
    check();
  });
}

// One snapshot of the counters that matter.
async function sample(pc) {
  const stats = await pc.getStats();
  const out = { at: performance.now(), rtt: null, video: null, audio: null, remoteLoss: [] };
  stats.forEach((s) => {
    if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated &&
        typeof s.currentRoundTripTime === "number") {
      out.rtt = s.currentRoundTripTime * 1000;
    } else if (s.type === "inbound-rtp" && (s.kind === "video" || s.kind === "audio")) {
      out[s.kind] = {
        bytes: s.bytesReceived || 0,
        frames: s.framesDecoded || 0,
        lost: Math.max(0, s.packetsLost || 0),
        received: s.packetsReceived || 0,
        jitter: typeof s.jitter === "number" ? s.jitter * 1000 : null,
      };
    } else if (s.type === "remote-inbound-rtp" && typeof s.fractionLost === "number") {
      out.remoteLoss.push(s.fractionLost * 100);
    } else if (s.type === "remote-inbound-rtp" && out.rtt === null &&
               typeof s.roundTripTime === "number") {
      out.rtt = s.roundTripTime * 1000;
    }
  });
  return out;
}

const round = (value, digits = 1) =>
  value === null || !Number.isFinite(value) ? null : Number(value.toFixed(digits));

// Figures over the window between the first and the last snapshot.
export function figures(first, last, rtts) {
  const seconds = (last.at - first.at) / 1000;
  const video = last.video && first.video ? last.video : null;
  const bitrate = video && seconds > 0 ? ((video.bytes - first.video.bytes) * 8) / 1000 / seconds : 0;
  const fps = video && seconds > 0 ? (video.frames - first.video.frames) / seconds : 0;
  let lost = 0;
  let total = 0;
  for (const kind of ["audio", "video"]) {
    if (last[kind] && first[kind]) {
      const l = last[kind].lost - first[kind].lost;
      lost += l;
      total += l + (last[kind].received - first[kind].received);
    }
  }
  const inboundLoss = total > 0 ? (100 * lost) / total : null;
  const losses = [inboundLoss, ...last.remoteLoss].filter((v) => v !== null);
  const jitter = (last.audio && last.audio.jitter) ?? (last.video && last.video.jitter);
  const rtt = rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : null;
  return {
    rtt_ms: round(rtt),
    jitter_ms: round(jitter ?? null),
    loss_pct: losses.length ? round(Math.min(100, Math.max(...losses)), 2) : null,
    bitrate_kbps: round(Math.max(0, bitrate)),
    fps: round(Math.max(0, fps)),
  };
}

// Run the whole test. `onProgress(phase, fraction)` reports; resolves with
// {connected, figures, stream}. Throws EchoBusyError when the server has no free slot.
export async function runTest({ offerUrl, closeUrl, csrf, seconds, onProgress }) {
  onProgress("starting", 0);
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
  });
  const pc = new RTCPeerConnection({ iceServers: [] });
  let echoId = null;
  try {
    stream.getTracks().forEach((track) => pc.addTrack(track, stream));
    onProgress("connecting", 0);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await postJson(offerUrl, { sdp: pc.localDescription.sdp }, csrf);
    echoId = answer.id;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    if (!(await connected(pc))) return { connected: false, figures: null, stream };
    onProgress("measuring", 0);
    // A short warm-up: the first second is dominated by key frames and ramp-up.
    await new Promise((r) => setTimeout(r, 1000));
    const first = await sample(pc);
    const rtts = [];
    let last = first;
    for (let i = 1; i <= seconds; i += 1) {
      await new Promise((r) => setTimeout(r, 1000));
      last = await sample(pc);
      if (last.rtt !== null) rtts.push(last.rtt);
      onProgress("measuring", i / seconds);
    }
    return { connected: true, figures: figures(first, last, rtts), stream };
  } finally {
    pc.close();
    if (echoId) {
      postJson(closeUrl.replace("ECHO_ID", encodeURIComponent(echoId)), {}, csrf).catch(() => {});
    }
  }
}

export async function saveResult(url, csrf, result) {
  return postJson(url, result, csrf);
}
