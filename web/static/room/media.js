// Local media: camera and microphone, device lists, screen sharing, the microphone level meter.
// No DOM code here.

// Modest capture: a mesh sends one copy per peer over a rural uplink.
const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Why local media is missing: "denied", "nodevice", "busy" or "error". */
export function mediaErrorKind(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return "denied";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "nodevice";
  if (name === "NotReadableError" || name === "AbortError") return "busy";
  return "error";
}

/** Cameras and microphones the browser lists (labels appear once permission is granted). */
export async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) {
    return { audio: [], video: [] };
  }
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    audio: all.filter((d) => d.kind === "audioinput" && d.deviceId),
    video: all.filter((d) => d.kind === "videoinput" && d.deviceId),
  };
}

function constraint(base, deviceId) {
  return deviceId ? { ...base, deviceId: { exact: deviceId } } : base;
}

/** One microphone track, or throws. */
export async function openAudio(deviceId) {
  const s = await navigator.mediaDevices.getUserMedia({ audio: constraint(AUDIO, deviceId) });
  return s.getAudioTracks()[0];
}

/** One camera track, or throws. */
export async function openVideo(deviceId) {
  const s = await navigator.mediaDevices.getUserMedia({ video: constraint(VIDEO, deviceId) });
  return s.getVideoTracks()[0];
}

/**
 * Open what can be opened: camera and microphone, else microphone only.
 * Returns {audio, video, error} where error is the kind of the first failure (or null).
 */
export async function openLocal({ audioId = "", videoId = "", wantVideo = true } = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { audio: null, video: null, error: "error" };
  }
  if (wantVideo) {
    try {
      const s = await navigator.mediaDevices.getUserMedia({
        audio: constraint(AUDIO, audioId),
        video: constraint(VIDEO, videoId),
      });
      return { audio: s.getAudioTracks()[0] || null, video: s.getVideoTracks()[0] || null, error: null };
    } catch (err) {
      const kind = mediaErrorKind(err);
      if (kind === "denied") return { audio: null, video: null, error: kind };
      try {
        return { audio: await openAudio(audioId), video: null, error: kind };
      } catch (err2) {
        return { audio: null, video: null, error: mediaErrorKind(err2) };
      }
    }
  }
  try {
    return { audio: await openAudio(audioId), video: null, error: null };
  } catch (err) {
    return { audio: null, video: null, error: mediaErrorKind(err) };
  }
}

/** A screen, window or tab to share; resolves to a video track (throws when refused). */
export async function openScreen() {
  const s = await navigator.mediaDevices.getDisplayMedia({
    video: { frameRate: { ideal: 10, max: 15 }, width: { max: 1920 }, height: { max: 1080 } },
    audio: false,
  });
  const track = s.getVideoTracks()[0];
  // Imaging and lab reports: keep detail sharp rather than motion smooth ("text" for documents).
  if ("contentHint" in track) track.contentHint = track.getSettings().displaySurface === "browser" ? "text" : "detail";
  return track;
}

/** Whether the browser can share a screen at all. */
export function canShareScreen() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
}

/** Stop a track if there is one. */
export function stopTrack(track) {
  if (track) track.stop();
}

/** The loudness (0..1) of an audio track, sampled on demand through a WebAudio AnalyserNode. */
export class LevelMeter {
  constructor() {
    this.ctx = null;
    this.source = null;
    this.analyser = null;
    this.buffer = null;
  }

  /** Measure this track (or nothing when null). */
  attach(track) {
    this.detach();
    if (!track) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!this.ctx) this.ctx = new Ctx();
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 512;
    this.buffer = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
  }

  /** Resume the audio context (browsers start it suspended until a click). */
  resume() {
    if (this.ctx && this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
  }

  detach() {
    if (this.source) this.source.disconnect();
    this.source = null;
    this.analyser = null;
  }

  /** Current loudness: RMS of the waveform, linear (1 = full scale), like RTP audioLevel. */
  rms() {
    if (!this.analyser) return 0;
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (const v of this.buffer) sum += v * v;
    return Math.sqrt(sum / this.buffer.length);
  }

  /** Current level for the meter (0..1): -60 dBFS and below is 0, full scale is 1. */
  level() {
    const rms = this.rms();
    if (rms <= 0) return 0;
    return Math.max(0, Math.min(1, (20 * Math.log10(rms) + 60) / 60));
  }

  close() {
    this.detach();
    if (this.ctx) this.ctx.close().catch(() => {});
    this.ctx = null;
  }
}
