// Recording with consent: our side of the connection to the server's recorder (peer id
// "recorder", docs/signaling.md "Recording"). Only created after we accepted; never sends a
// byte before that. No DOM code here.

export const RECORDER_ID = "recorder";

// The recorder answers with its candidates inside the answer and we do the same: a complete
// offer is what aiortc handles best. Gathering on a clinic network rarely takes long.
const GATHER_TIMEOUT_MS = 3000;
// A lost connection to the recorder is offered again (a new file) a few times, not forever.
const MAX_RETRIES = 3;
const RETRY_DELAY_MS = 1000;

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

/**
 * A send-only connection carrying our microphone and camera to the recorder.
 * Events: "state" ({state}) on connection changes, "lost" when it failed for good.
 */
export class RecorderLink extends EventTarget {
  /**
   * @param {(frame: object) => void} send sends a signalling frame.
   * @param {RTCIceServer[]} iceServers from `welcome`.
   */
  constructor(send, iceServers) {
    super();
    this.send = send;
    this.iceServers = iceServers || [];
    this.pc = null;
    this.audio = null; // RTCRtpTransceiver
    this.video = null;
    this.tracks = { audio: null, video: null };
    this.limits = { maxBitrate: null, scale: 1 };
    this.retries = 0;
    this.retryTimer = null;
    this.closed = true;
  }

  /** Whether a connection to the recorder is open (or being opened). */
  get active() {
    return !this.closed;
  }

  /** Connect and send these tracks (either may be null); restarts a running connection. */
  async open(tracks) {
    this._closePc();
    this.closed = false;
    this.tracks = { ...tracks };
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.audio = pc.addTransceiver(this.tracks.audio || "audio", { direction: "sendonly" });
    this.video = pc.addTransceiver(this.tracks.video || "video", { direction: "sendonly" });
    pc.addEventListener("connectionstatechange", () => this._onState(pc));
    await pc.setLocalDescription();
    await gathered(pc);
    if (this.pc !== pc || this.closed) return;
    this.send({ type: "offer", to: RECORDER_ID, sdp: pc.localDescription.sdp });
  }

  /** The recorder's `answer` (or a stray frame from it). */
  async handle(msg) {
    const pc = this.pc;
    if (!pc || this.closed || msg.type !== "answer") return;
    if (pc.signalingState !== "have-local-offer") return;
    await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
  }

  /** Send this track (or nothing) as our audio or video to the recorder. */
  async setTrack(kind, track) {
    this.tracks[kind] = track;
    const t = kind === "audio" ? this.audio : this.video;
    if (!t || this.closed || t.sender.track === track) return;
    try {
      await t.sender.replaceTrack(track);
    } catch {
      // A closed connection cannot change tracks; the next open() takes the current ones.
    }
  }

  /** The same cap on our outgoing video as on the mesh connections. */
  async setLimits(limits) {
    this.limits = { ...limits };
    const t = this.video;
    const pc = this.pc;
    if (!t || !pc || this.closed || pc.signalingState !== "stable") return;
    const params = t.sender.getParameters();
    if (!params.encodings || params.encodings.length === 0) return;
    const enc = params.encodings[0];
    if (this.limits.maxBitrate) enc.maxBitrate = this.limits.maxBitrate;
    else delete enc.maxBitrate;
    enc.scaleResolutionDownBy = Math.max(1, this.limits.scale || 1);
    try {
      await t.sender.setParameters(params);
    } catch {
      // Not negotiated yet: applied again once connected.
    }
  }

  _onState(pc) {
    if (pc !== this.pc || this.closed) return;
    const state = pc.connectionState;
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
    if (state === "connected") {
      this.retries = 0;
      this.setLimits(this.limits);
    } else if (state === "failed") {
      // The recorder finished the file it had; a new offer starts another one.
      if (this.retries >= MAX_RETRIES) {
        this._closePc();
        this.closed = true;
        this.dispatchEvent(new CustomEvent("lost"));
        return;
      }
      this.retries += 1;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        if (!this.closed) this.open(this.tracks).catch(() => {});
      }, RETRY_DELAY_MS);
    }
  }

  _closePc() {
    clearTimeout(this.retryTimer);
    if (this.pc) this.pc.close();
    this.pc = null;
    this.audio = null;
    this.video = null;
  }

  /** Stop sending to the recorder (declined, withdrawn, recording stopped, leaving). */
  close() {
    this.closed = true;
    this.retries = 0;
    this._closePc();
  }
}
