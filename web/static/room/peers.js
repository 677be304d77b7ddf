// The mesh: one RTCPeerConnection per remote peer, negotiated through the signalling client.
// No DOM code here.
//
// Who offers (docs/signaling.md): the newcomer offers to every peer in its `welcome`; later
// renegotiation (ICE restart, audio-only) uses perfect negotiation where the peer with the
// smaller peer_id is "impolite" (its offer wins a collision) and the other one rolls back.
//
// Every connection carries exactly three transceivers, all sendrecv, in this order: audio, the
// camera and the shared screen (a second video, so the presenter stays visible while sharing).
// Camera on/off and starting or stopping a share only swap a sender's track (replaceTrack), so
// they need no renegotiation. Events: "track" ({peerId, stream, screen}: the camera and
// microphone in `stream`, the shared screen in `screen`), "connection" ({peerId, state}),
// "closed" ({peerId}).

import { preferRedundantAudio, raiseAudio, tuneVideoParams } from "./adapt.js";

const RESTART_AFTER_DISCONNECT_MS = 4000;
const POLITE_RESTART_DELAY_MS = 2500;

class PeerLink {
  constructor(manager, peerId) {
    this.manager = manager;
    this.peerId = peerId;
    // The larger id is polite: it yields when both offer at once.
    this.polite = manager.selfId > peerId;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.stream = new MediaStream();
    this.screenStream = new MediaStream();
    this.queue = Promise.resolve();
    this.restartTimer = null;
    this.audio = null; // RTCRtpTransceiver
    this.video = null;
    this.screen = null;
    this.closed = false;
    this.pc = new RTCPeerConnection({ iceServers: manager.iceServers });
    this._wire();
  }

  _wire() {
    const pc = this.pc;
    pc.addEventListener("negotiationneeded", () => this._offer());
    pc.addEventListener("icecandidate", (ev) => {
      if (ev.candidate) {
        this.manager.send({ type: "candidate", to: this.peerId, candidate: ev.candidate.toJSON() });
      }
    });
    pc.addEventListener("track", (ev) => {
      this._learnTransceivers();
      const into = ev.transceiver && ev.transceiver === this.screen ? this.screenStream : this.stream;
      if (!into.getTrackById(ev.track.id)) into.addTrack(ev.track);
      this.manager._emit("track", { peerId: this.peerId, stream: this.stream, screen: this.screenStream });
    });
    pc.addEventListener("connectionstatechange", () => this._onConnectionState());
  }

  /** Start as the offering side: add our transceivers, negotiationneeded does the rest. */
  startOffer() {
    const m = this.manager;
    const init = { direction: "sendrecv" };
    this.audio = this.pc.addTransceiver(m.tracks.audio || "audio", init);
    preferRedundantAudio(this.audio);
    this.video = this.pc.addTransceiver(m.tracks.video || "video", {
      direction: m.audioOnly ? "inactive" : "sendrecv",
    });
    this.screen = this.pc.addTransceiver(m.tracks.screen || "video", {
      direction: m.audioOnly ? "inactive" : "sendrecv",
    });
  }

  _learnTransceivers() {
    for (const t of this.pc.getTransceivers()) {
      const kind = t.receiver.track.kind;
      if (kind === "audio" && !this.audio) this.audio = t;
      else if (kind === "video" && !this.video) this.video = t;
      else if (kind === "video" && !this.screen && t !== this.video) this.screen = t;
    }
  }

  /** Answering side: attach our tracks to the transceivers the remote offer created. */
  async _prepareAnswer() {
    this._learnTransceivers();
    const m = this.manager;
    if (this.audio && this.audio.direction !== "stopped") {
      if (this.audio.sender.track !== m.tracks.audio) await this.audio.sender.replaceTrack(m.tracks.audio);
      this.audio.direction = "sendrecv";
      preferRedundantAudio(this.audio);
    }
    for (const [t, track] of [[this.video, m.tracks.video], [this.screen, m.tracks.screen]]) {
      if (!t || t.direction === "stopped") continue;
      if (t.sender.track !== track) await t.sender.replaceTrack(track);
      t.direction = m.audioOnly ? "inactive" : "sendrecv";
    }
  }

  /** Our transceiver for a kind of track: audio, video (the camera) or screen. */
  transceiver(kind) {
    return kind === "audio" ? this.audio : kind === "screen" ? this.screen : this.video;
  }

  async _offer() {
    if (this.closed) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.manager.send({ type: "offer", to: this.peerId, sdp: this.pc.localDescription.sdp });
    } catch (err) {
      this.manager._log("offer failed", this.peerId, err);
    } finally {
      this.makingOffer = false;
    }
  }

  /** Handle a relayed offer, answer or candidate, one at a time and in order. */
  handle(msg) {
    this.queue = this.queue.then(() => this._handle(msg)).catch((err) => {
      this.manager._log("signal failed", this.peerId, msg.type, err);
    });
    return this.queue;
  }

  async _handle(msg) {
    if (this.closed) return;
    const pc = this.pc;
    if (msg.type === "candidate") {
      if (!msg.candidate) return;
      try {
        await pc.addIceCandidate(msg.candidate);
      } catch (err) {
        if (!this.ignoreOffer) throw err;
      }
      return;
    }
    const desc = { type: msg.type, sdp: msg.sdp };
    const collision = desc.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    if (desc.type === "answer" && pc.signalingState !== "have-local-offer") return;
    await pc.setRemoteDescription(desc);
    if (desc.type === "offer") {
      await this._prepareAnswer();
      await pc.setLocalDescription();
      this.manager.send({ type: "answer", to: this.peerId, sdp: pc.localDescription.sdp });
      this.manager._applyLimits(this);
    }
  }

  _onConnectionState() {
    const state = this.pc.connectionState;
    this.manager._emit("connection", { peerId: this.peerId, state });
    clearTimeout(this.restartTimer);
    if (state === "connected") {
      this.manager._applyLimits(this);
    } else if (state === "failed") {
      // Both sides notice; the impolite one restarts first so the offers rarely collide.
      this.restartTimer = setTimeout(() => this.restartIce(), this.polite ? POLITE_RESTART_DELAY_MS : 0);
    } else if (state === "disconnected") {
      this.restartTimer = setTimeout(() => {
        if (this.pc.connectionState === "disconnected") this.restartIce();
      }, RESTART_AFTER_DISCONNECT_MS + (this.polite ? POLITE_RESTART_DELAY_MS : 0));
    }
  }

  /** Look for a new network path (fires negotiationneeded with an ICE restart offer). */
  restartIce() {
    if (this.closed || this.pc.connectionState === "connected") return;
    this.manager._log("ICE restart", this.peerId);
    this.pc.restartIce();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.pc.close();
  }
}

/**
 * The screen sender's parameters: a shared screen carries text and images, so it keeps its
 * resolution and lets its frame rate drop, within its own bitrate (limits.screenBitrate).
 */
async function applyScreenParameters(link) {
  const t = link.screen;
  if (!t || link.closed || !link.pc.currentLocalDescription) return;
  const maxBitrate = link.manager.limits.screenBitrate || 1500000;
  const params = t.sender.getParameters();
  if (!params.encodings || params.encodings.length === 0) params.encodings = [{}];
  if (params.degradationPreference === "maintain-resolution"
      && params.encodings[0].maxBitrate === maxBitrate) return;
  params.degradationPreference = "maintain-resolution";
  params.encodings[0].maxBitrate = maxBitrate;
  try {
    await t.sender.setParameters(params);
  } catch (err) {
    link.manager._log("screen parameters", err);
  }
}

export class PeerManager extends EventTarget {
  /** @param {(frame: object) => void} send sends a signalling frame. */
  constructor(send) {
    super();
    this.send = send;
    this.selfId = "";
    this.iceServers = [];
    this.links = new Map();
    this.tracks = { audio: null, video: null, screen: null };
    this.audioOnly = false;
    this.limits = { maxBitrate: null, scale: 1 };
    this.debug = false;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _log(...args) {
    if (this.debug) console.debug("[peers]", ...args);
  }

  /** Our own peer id and the ICE servers from `welcome`. */
  configure(selfId, iceServers) {
    this.selfId = selfId;
    this.iceServers = iceServers || [];
  }

  /** The connection to a peer, if any. */
  get(peerId) {
    return this.links.get(peerId) || null;
  }

  /** Whether we have a connection to this peer that is not dead. */
  isAlive(peerId) {
    const link = this.links.get(peerId);
    return Boolean(link && !link.closed && link.pc.connectionState !== "closed");
  }

  _create(peerId) {
    this.remove(peerId);
    const link = new PeerLink(this, peerId);
    this.links.set(peerId, link);
    return link;
  }

  /** Offer to a peer (we are the newcomer, or the smaller id after a resync). */
  connectTo(peerId) {
    const link = this._create(peerId);
    link.startOffer();
    return link;
  }

  /** A relayed `offer`, `answer` or `candidate` (with `from`). */
  handleSignal(msg) {
    let link = this.links.get(msg.from);
    if (!link || link.closed) {
      // Only an offer may open a connection; stray answers and candidates are dropped.
      if (msg.type !== "offer") return Promise.resolve();
      link = this._create(msg.from);
    }
    return link.handle(msg);
  }

  /** Close and forget the connection to a peer. */
  remove(peerId) {
    const link = this.links.get(peerId);
    if (!link) return;
    this.links.delete(peerId);
    link.close();
    this._emit("closed", { peerId });
  }

  /** Close everything (leaving, or a fresh session after the grace period). */
  closeAll() {
    for (const id of [...this.links.keys()]) this.remove(id);
  }

  /** Send this track (or nothing) as our audio, video (camera) or screen on every connection. */
  async setTrack(kind, track) {
    this.tracks[kind] = track;
    const jobs = [];
    for (const link of this.links.values()) {
      const t = link.transceiver(kind);
      if (t && t.sender.track !== track && t.direction !== "stopped") {
        jobs.push(t.sender.replaceTrack(track).catch((err) => this._log("replaceTrack", err)));
      }
    }
    await Promise.all(jobs);
  }

  /**
   * Cap our outgoing video: maxBitrate in bit/s (null: no cap), scale >= 1 divides the camera's
   * resolution; screenBitrate caps the shared screen.
   */
  async setVideoLimits({ maxBitrate = null, scale = 1, screenBitrate = null } = {}) {
    this.limits = { maxBitrate, scale, screenBitrate };
    await Promise.all([...this.links.values()].map((link) => this._applyLimits(link)));
  }

  async _applyLimits(link) {
    if (link.audio && !link.closed) raiseAudio(link.audio.sender).catch((err) => this._log("audio", err));
    await applyScreenParameters(link);
    const t = link.video;
    if (!t || link.closed) return;
    const sender = t.sender;
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length === 0) {
      // Firefox before negotiation; Chromium fills encodings once negotiated.
      if (link.pc.signalingState !== "stable" || !link.pc.currentLocalDescription) return;
      params.encodings = [{}];
    }
    const enc = params.encodings[0];
    if (this.limits.maxBitrate) enc.maxBitrate = this.limits.maxBitrate;
    else delete enc.maxBitrate;
    enc.scaleResolutionDownBy = Math.max(1, this.limits.scale || 1);
    tuneVideoParams(params, sender.track);
    try {
      await sender.setParameters(params);
    } catch (err) {
      this._log("setParameters", err);
    }
  }

  /** Stop sending and receiving video on every connection (or resume it). */
  setAudioOnly(on) {
    this.audioOnly = on;
    for (const link of this.links.values()) {
      for (const t of [link.video, link.screen]) {
        // Changing direction renegotiates (perfect negotiation decides who offers).
        if (t && t.direction !== "stopped") t.direction = on ? "inactive" : "sendrecv";
      }
    }
  }

  /** [peerId, RTCPeerConnection] pairs of the live connections. */
  connections() {
    return [...this.links.entries()].filter(([, l]) => !l.closed).map(([id, l]) => [id, l.pc]);
  }

  /** The remote peer's audio receiver (for the speaking level). */
  audioReceiver(peerId) {
    const link = this.links.get(peerId);
    return link && link.audio ? link.audio.receiver : null;
  }
}
