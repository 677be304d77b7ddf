// Periodic measurements of the mesh: per-peer connection quality, the active speaker, and the
// decisions to fall back to low bandwidth or audio only and to come back (ladder.js). No DOM
// code here.

import { Ladder } from "./ladder.js";
import { receiverLevel, sample, tooWeakForVideo } from "./stats.js";

const STATS_EVERY_MS = 2000;
const SPEAKER_EVERY_MS = 250;
// Both linear 0..1 (1 = full scale): RTCRtpSynchronizationSource.audioLevel and LevelMeter.rms().
const REMOTE_SPEAKING = 0.04;
const LOCAL_SPEAKING = 0.04;

export class NetworkMonitor extends EventTarget {
  /**
   * Events: "quality" ({peerId, sample}), "overall" ({quality}), "weak" ({}) when the uplink
   * has looked too weak for video for a while, "strong" ({}) when the link has been good long
   * enough to undo an automatic step down, "speaker" ({peerId}).
   * @param {import("./peers.js").PeerManager} peers
   * @param {() => number} localLevel our own microphone RMS, linear 0..1 (0 when muted).
   */
  constructor(peers, localLevel) {
    super();
    this.peers = peers;
    this.localLevel = localLevel;
    this.selfId = "";
    this.prev = new Map();
    this.last = new Map();
    this.ladder = new Ladder(globalThis.telemedLadder || {});
    this.speaker = null;
    this.timers = [];
  }

  start() {
    this.stop();
    this.timers.push(setInterval(() => this._stats(), STATS_EVERY_MS));
    this.timers.push(setInterval(() => this._speaker(), SPEAKER_EVERY_MS));
  }

  stop() {
    this.timers.forEach(clearInterval);
    this.timers = [];
  }

  /** Forget the history after a change of mode, so the next decision is based on new figures. */
  resetWeak() {
    this.ladder.reset();
  }

  /** The last sample of each peer. */
  samples() {
    return new Map(this.last);
  }

  async _stats() {
    const conns = this.peers.connections();
    const live = new Set(conns.map(([id]) => id));
    for (const id of [...this.prev.keys()]) {
      if (!live.has(id)) {
        this.prev.delete(id);
        this.last.delete(id);
      }
    }
    let weakAll = conns.length > 0;
    let goodAll = conns.length > 0;
    let worst = "unknown";
    const order = ["unknown", "good", "fair", "poor", "bad"];
    for (const [id, pc] of conns) {
      let s;
      try {
        s = await sample(pc, this.prev.get(id));
      } catch {
        continue;
      }
      this.prev.set(id, s);
      this.last.set(id, s);
      this.dispatchEvent(new CustomEvent("quality", { detail: { peerId: id, sample: s } }));
      if (order.indexOf(s.quality) > order.indexOf(worst)) worst = s.quality;
      if (!tooWeakForVideo(s)) weakAll = false;
      if (s.quality !== "good") goodAll = false;
    }
    this.dispatchEvent(new CustomEvent("overall", { detail: { quality: worst } }));
    const step = this.ladder.observe({ weak: weakAll, good: goodAll });
    if (step === "down") this.dispatchEvent(new CustomEvent("weak", { detail: {} }));
    if (step === "up") this.dispatchEvent(new CustomEvent("strong", { detail: {} }));
  }

  _speaker() {
    let best = null;
    let bestLevel = 0;
    const own = this.localLevel();
    if (own > LOCAL_SPEAKING) {
      best = this.selfId;
      bestLevel = own;
    }
    for (const [id] of this.peers.connections()) {
      const level = receiverLevel(this.peers.audioReceiver(id));
      if (level > REMOTE_SPEAKING && level > bestLevel) {
        best = id;
        bestLevel = level;
      }
    }
    // Silence keeps the last speaker highlighted rather than flickering off.
    if (best && best !== this.speaker) {
      this.speaker = best;
      this.dispatchEvent(new CustomEvent("speaker", { detail: { peerId: best } }));
    }
  }
}
