// SFU rooms (welcome.media === "sfu"): two RTCPeerConnections with the server's media server,
// both negotiated through Telemed's signalling (docs/signaling.md, "SFU rooms"). "publish"
// carries our microphone and camera; "subscribe" carries everyone else, each `mid` labelled
// with the peer it belongs to. No DOM code here.
//
// The object offers what the controller, the local media and the network monitor use of the
// mesh's PeerManager, so they work unchanged: "track" ({peerId, stream}), "connection"
// ({peerId, state}) and "closed" ({peerId}) events, setTrack, setVideoLimits, setAudioOnly,
// connections(), audioReceiver().

export class SfuMedia extends EventTarget {
  /** @param {(frame: object) => void} send sends a signalling frame. */
  constructor(send) {
    super();
    this.send = send;
    this.selfId = "";
    this.iceServers = [];
    this.tracks = { audio: null, video: null, screen: null };
    this.audioOnly = false;
    this.limits = { maxBitrate: null, scale: 1 };
    this.publisher = null;
    this.subscriber = null;
    this.audio = null; // our transceivers on the publisher
    this.video = null;
    this.streams = new Map(); // peer_id -> MediaStream
    this.mids = new Map(); // mid -> {peer_id, kind}
    this.queue = Promise.resolve();
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Our own peer id and the ICE servers from `welcome`. */
  configure(selfId, iceServers) {
    this.selfId = selfId;
    this.iceServers = iceServers || [];
  }

  /** Publish our microphone and camera (after `welcome`). */
  async start() {
    this.closeAll();
    const pc = (this.publisher = new RTCPeerConnection({ iceServers: this.iceServers }));
    this.audio = pc.addTransceiver(this.tracks.audio || "audio", { direction: "sendonly" });
    const video = this.audioOnly ? null : this.tracks.video;
    this.video = pc.addTransceiver(video || "video", { direction: "sendonly" });
    pc.addEventListener("icecandidate", (ev) => {
      if (ev.candidate) this.send({ type: "sfu-candidate", pc: "publish", candidate: ev.candidate.toJSON() });
    });
    await pc.setLocalDescription(await pc.createOffer());
    this.send({ type: "sfu-publish", sdp: pc.localDescription.sdp });
  }

  /** `sfu-published` or `sfu-subscribe` from the server, handled one at a time. */
  handle(msg) {
    this.queue = this.queue.then(() => this._handle(msg)).catch((err) => console.warn("sfu", err));
    return this.queue;
  }

  async _handle(msg) {
    if (msg.type === "sfu-published" && this.publisher) {
      await this.publisher.setRemoteDescription({ type: "answer", sdp: msg.sdp });
      await this._applyLimits();
    } else if (msg.type === "sfu-subscribe") {
      for (const s of msg.streams || []) this.mids.set(s.mid, s);
      const pc = this.subscriber || this._subscribe();
      await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      this.send({ type: "sfu-subscribed", sdp: pc.localDescription.sdp });
    }
  }

  _subscribe() {
    const pc = (this.subscriber = new RTCPeerConnection({ iceServers: this.iceServers }));
    pc.addEventListener("icecandidate", (ev) => {
      if (ev.candidate) this.send({ type: "sfu-candidate", pc: "subscribe", candidate: ev.candidate.toJSON() });
    });
    pc.addEventListener("track", (ev) => {
      const label = this.mids.get(ev.transceiver.mid);
      if (!label) return;
      let stream = this.streams.get(label.peer_id);
      if (!stream) this.streams.set(label.peer_id, (stream = new MediaStream()));
      for (const old of stream.getTracks()) if (old.kind === ev.track.kind && old !== ev.track) stream.removeTrack(old);
      if (!stream.getTrackById(ev.track.id)) stream.addTrack(ev.track);
      this._emit("track", { peerId: label.peer_id, stream });
      this._emit("connection", { peerId: label.peer_id, state: pc.connectionState });
    });
    pc.addEventListener("connectionstatechange", () => {
      for (const peerId of this.streams.keys()) this._emit("connection", { peerId, state: pc.connectionState });
    });
    return pc;
  }

  /** What the controller shows on a peer's tile. */
  get(peerId) {
    const stream = this.streams.get(peerId);
    return stream && this.subscriber ? { stream, screenStream: null, pc: this.subscriber } : null;
  }

  isAlive(peerId) {
    return Boolean(this.get(peerId) && this.subscriber.connectionState !== "closed");
  }

  /** Mesh calls, without meaning here: the server offers everyone's media. */
  connectTo() {}
  handleSignal() { return Promise.resolve(); }

  /** A peer left: forget its stream (the server renegotiates its streams away). */
  remove(peerId) {
    if (!this.streams.delete(peerId)) return;
    this._emit("closed", { peerId });
  }

  /** Close both connections (leaving, the lobby, a new session). */
  closeAll() {
    for (const id of [...this.streams.keys()]) this.remove(id);
    for (const pc of [this.publisher, this.subscriber]) if (pc) pc.close();
    this.publisher = this.subscriber = this.audio = this.video = null;
    this.mids.clear();
    this.queue = Promise.resolve();
  }

  /** Send this track (or nothing) as our audio or video. */
  async setTrack(kind, track) {
    this.tracks[kind] = track;
    // A shared screen is not published in SFU rooms yet (it would need a second video).
    if (kind === "screen") return;
    const t = kind === "audio" ? this.audio : this.video;
    if (t && !(kind === "video" && this.audioOnly)) await t.sender.replaceTrack(track).catch(() => {});
  }

  /** Cap our outgoing video (maxBitrate in bit/s, scale >= 1 divides the resolution). */
  async setVideoLimits({ maxBitrate = null, scale = 1 } = {}) {
    this.limits = { maxBitrate, scale };
    await this._applyLimits();
  }

  async _applyLimits() {
    if (!this.video || !this.publisher || !this.publisher.currentRemoteDescription) return;
    const sender = this.video.sender;
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length === 0) params.encodings = [{}];
    const enc = params.encodings[0];
    if (this.limits.maxBitrate) enc.maxBitrate = this.limits.maxBitrate;
    else delete enc.maxBitrate;
    enc.scaleResolutionDownBy = Math.max(1, this.limits.scale || 1);
    await sender.setParameters(params).catch(() => {});
  }

  /** Stop sending video (or send it again); what we receive stays. */
  setAudioOnly(on) {
    this.audioOnly = on;
    if (this.video) this.video.sender.replaceTrack(on ? null : this.tracks.video).catch(() => {});
  }

  /** [peerId, RTCPeerConnection] pairs: every peer we receive, on the one subscriber connection. */
  connections() {
    if (!this.subscriber) return [];
    return [...this.streams.keys()].map((id) => [id, this.subscriber]);
  }

  /** The receiver of a peer's audio (for the speaking level). */
  audioReceiver(peerId) {
    if (!this.subscriber) return null;
    for (const t of this.subscriber.getTransceivers()) {
      const label = this.mids.get(t.mid);
      if (label && label.peer_id === peerId && label.kind === "audio") return t.receiver;
    }
    return null;
  }
}
