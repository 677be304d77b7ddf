// The consultation room: one controller wiring signalling, the mesh, local media, recording
// consent, measurements and the DOM, with the room's state in one place.

import { ChatPanel } from "./chat.js";
import { RecordingConsent } from "./consent.js";
import { LocalMedia } from "./local.js";
import { NetworkMonitor } from "./network.js";
import { PeerManager } from "./peers.js";
import { SfuMedia } from "./sfu.js";
import { joinInfo, SignalingClient } from "./signaling.js";
import { endedReason, Reopening } from "./reopen.js";
import { listenToSignaling } from "./inbox.js";
import { shortcut, tileKey } from "./stage.js";
import { describe } from "./stats.js";
import { fmt, RoomUI } from "./ui.js";

// Error codes that end the session; the ended screen explains them.

export class RoomController {
  /**
   * @param {HTMLElement} root the room's element.
   * @param {object} config the page's room configuration (urls, strings, who we are).
   * @param {string} csrf the page's CSRF token.
   */
  constructor(root, config, csrf) {
    this.root = root;
    this.config = config;
    this.S = config.strings;
    // The room as this page sees it.
    this.self = null; // our peer object, once welcomed
    this.roster = new Map(); // remote peers: peer_id -> peer object
    this.presence = []; // presence events as seen here, oldest first
    this.selfShown = { track: null, stream: null }; // our tile's stream, kept to avoid flicker
    this.selfScreen = { track: null, stream: null }; // our shared screen's tile stream
    this.lastError = null; // why the session may end: kicked, ended, denied, room-full…
    this.joining = false;

    this.ui = new RoomUI(root, this.S);
    this.reopening = new Reopening({ config, csrf, strings: this.S });
    this.signaling = new SignalingClient(joinInfo(config.joinUrl, csrf));
    const send = (frame) => this.signaling.send(frame);
    this.peers = new PeerManager(send);
    // Rooms whose welcome says "sfu" use this instead of the mesh (see useMedia).
    this.mesh = this.peers;
    this.sfu = new SfuMedia(send);
    this.consent = new RecordingConsent({
      signaling: this.signaling,
      ui: this.ui,
      strings: this.S,
      tracks: () => this.local.recorderTracks(),
      isModerator: () => this.isModerator(),
      render: () => this.renderPeople(),
    });
    this.monitor = new NetworkMonitor(this.peers, () => (this.local.micOn ? this.local.meter.rms() : 0));
    this.local = new LocalMedia({
      root,
      ui: this.ui,
      strings: this.S,
      peers: this.peers,
      consent: this.consent,
      monitor: this.monitor,
      room: this,
    });
    this.chat = new ChatPanel({
      list: document.getElementById("chat-list"),
      form: document.getElementById("chat-form"),
      input: document.getElementById("chat-input"),
      unread: document.getElementById("chat-unread"),
      send: (text) => send({ type: "chat", text }),
      isVisible: () => this.ui.sideVisible() && this.ui.currentTab() === "chat",
      strings: this.S,
    });
    listenToSignaling(this);
    this._listenToMedia();
    this._listenToUser();
  }

  /** Open the preview and wait for the click on Join. */
  start() {
    this.local.showLevel();
    document.getElementById("join-viewer-button").disabled = false;
    this.local.preview();
  }

  isModerator() {
    return Boolean(this.self && this.self.role === "moderator");
  }

  // ---- what we show and send -------------------------------------------------------------------

  sendState() {
    if (this.self) Object.assign(this.self, this.local.state());
    this.signaling.send({ type: "state", ...this.local.state() });
    this.refreshSelf();
  }

  refreshSelf() {
    this.ui.setControls(this.local.controls());
    if (!this.self) return;
    Object.assign(this.self, this.local.state());
    this.ui.upsertTile(this.self, { self: true });
    const shown = this.local.shown();
    if (shown !== this.selfShown.track) {
      this.selfShown = { track: shown, stream: shown ? new MediaStream([shown]) : null };
    }
    this.ui.setTileStream(this.self.peer_id, this.selfShown.stream);
    const screen = this.local.screen;
    if (screen !== this.selfScreen.track) {
      this.selfScreen = { track: screen, stream: screen ? new MediaStream([screen]) : null };
    }
    this.ui.setScreenTile(this.self, this.selfScreen.stream, { self: true });
    this.renderPeople();
  }

  /** A remote peer's shared screen gets a tile while its state says it shares. */
  syncScreen(peerId) {
    const peer = this.roster.get(peerId);
    if (!peer) return;
    const link = this.peers.get(peerId);
    this.ui.setScreenTile(peer, peer.screen && link ? link.screenStream : null);
  }

  renderPeople() {
    const self = this.self;
    const all = self ? [self, ...this.roster.values()] : [...this.roster.values()];
    this.ui.renderPeople(all, {
      selfId: self && self.peer_id,
      moderator: this.isModerator(),
      recording: this.consent.on,
      consents: this.consent.answers(self && self.peer_id),
    });
    this.applyLimits();
  }

  applyLimits() {
    // A mesh sends one copy per peer: share a ~1.6 Mbit/s uplink between them.
    const n = Math.max(1, this.roster.size);
    const lowbw = this.local.lowbw;
    let limits;
    // While sharing, the screen gets most of the uplink and the camera becomes a thumbnail.
    const screenBitrate = lowbw ? 300000 : Math.max(500000, Math.min(1500000, 2400000 / n));
    if (this.local.screen) limits = { maxBitrate: lowbw ? 100000 : 200000, scale: 2, screenBitrate };
    else if (lowbw) limits = { maxBitrate: 150000, scale: 2, screenBitrate };
    else limits = { maxBitrate: Math.max(250000, Math.min(800000, 1600000 / n)), scale: 1, screenBitrate };
    const cur = this.peers.limits;
    if (cur.maxBitrate !== limits.maxBitrate || cur.scale !== limits.scale || cur.screenBitrate !== screenBitrate) {
      this.peers.setVideoLimits(limits);
      // The recorder gets the screen while we share (see LocalMedia.setScreen).
      this.consent.setLimits(this.local.screen ? { maxBitrate: screenBitrate, scale: 1 } : limits);
    }
  }

  addPeer(peer) {
    this.roster.set(peer.peer_id, peer);
    this.ui.upsertTile(peer);
    const link = this.peers.get(peer.peer_id);
    if (link) this.ui.setTileStream(peer.peer_id, link.stream);
    this.ui.setTileConnecting(peer.peer_id, !link || link.pc.connectionState !== "connected");
    this.syncScreen(peer.peer_id);
  }

  dropPeer(peerId) {
    this.roster.delete(peerId);
    this.peers.remove(peerId);
    this.ui.removeTile(peerId);
  }

  // ---- joining and leaving ---------------------------------------------------------------------

  async join(mode) {
    if (this.joining) return; // a double click must not open two sessions
    this.joining = true;
    await this.local.enter(mode);
    this.refreshSelf();
    this.ui.setView("call");
    this.ui.setBanner(this.S.connecting, "info");
    // Earlier messages first, so live ones arrive below them in order.
    await this.loadChatHistory();
    await this.signaling.connect();
  }

  async loadChatHistory() {
    try {
      // A slow link must not hold up joining for long: the live chat works without the history.
      const resp = await fetch(this.config.chatUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: AbortSignal.timeout(5000),
      });
      if (!resp.ok) return;
      const data = await resp.json();
      for (const line of data.items || []) this.chat.add({ name: line.name, text: line.text, time: line.at });
    } catch { /* the live chat still works */ }
  }

  /** The mesh or the SFU, as the room's `welcome` says; the local media and monitor follow. */
  useMedia(kind) {
    const media = kind === "sfu" ? this.sfu : this.mesh;
    if (media === this.peers) return;
    this.peers.closeAll();
    media.tracks = { ...this.peers.tracks };
    media.audioOnly = this.peers.audioOnly;
    this.peers = this.local.peers = this.monitor.peers = media;
  }

  onWelcome(msg) {
    this.useMedia(msg.media);
    this.peers.configure(msg.peer_id, msg.ice_servers);
    this.consent.configure(msg.ice_servers);
    this.monitor.selfId = msg.peer_id;
    const listed = new Map((msg.peers || []).map((p) => [p.peer_id, p]));
    if (msg.resumed) {
      for (const id of [...this.roster.keys()]) if (!listed.has(id)) this.dropPeer(id);
      for (const p of listed.values()) this.addPeer(p);
    } else {
      // A new session: everything from a previous one is gone on the other side too.
      this.peers.closeAll();
      this.consent.reset();
      for (const id of [...this.roster.keys()]) this.dropPeer(id);
      this.ui.clearTiles();
      for (const p of listed.values()) {
        this.addPeer(p);
        this.peers.connectTo(p.peer_id); // the newcomer offers
      }
      if (this.peers === this.sfu) this.sfu.start().catch((err) => console.warn("sfu publish", err));
    }
    this.self = { ...(msg.self || {}), peer_id: msg.peer_id, role: msg.role };
    if (!this.self.name) this.self.name = this.config.me.name;
    this.ui.setView("call");
    this.ui.setBanner(null);
    this.consent.setState(Boolean(msg.recording));
    this.ui.stage.setSpotlight(msg.spotlight || null);
    this.sendState();
    this.monitor.start();
  }

  /** Waiting for admission: first arrival, or sent back by the chair while the panel deliberates. */
  onLobby(msg) {
    const deliberation = msg.reason === "deliberation";
    document.getElementById("room-lobby-deliberation").hidden = !deliberation;
    if (!deliberation) return;
    // Out of the call until the chair brings us back: no media to or from anyone meanwhile.
    this.monitor.stop();
    this.peers.closeAll();
    for (const id of [...this.roster.keys()]) this.dropPeer(id);
    this.ui.clearTiles();
    this.ui.toast(this.S.sentToLobby);
  }

  finish(code) {
    this.monitor.stop();
    this.peers.closeAll();
    this.consent.close();
    this.local.stop();
    const E = this.S.ended;
    const reason = endedReason(E, this.lastError, code);
    const canRejoin = [E.left, E.replaced, E.error, E.full, E.notOpen].includes(reason);
    this.ui.hideToast();
    this.ui.showEnded(reason.title, reason.text, canRejoin);
    // Ended by the chair (not cancelled): it may be reopened while its time lasts.
    if (reason === E.ended) this.reopening.ended();
    this.ui.setStatus("");
  }

  // ---- wiring ----------------------------------------------------------------------------------

  _listenToMedia() {
    const { monitor, ui } = this;
    for (const media of [this.mesh, this.sfu]) {
      media.addEventListener("track", ({ detail }) => {
        if (!this.roster.has(detail.peerId)) return;
        ui.setTileStream(detail.peerId, detail.stream);
        this.syncScreen(detail.peerId);
      });
      media.addEventListener("connection", ({ detail }) => {
        ui.setTileConnecting(detail.peerId, detail.state !== "connected");
        if (detail.state === "connected") this.applyLimits();
      });
    }
    monitor.addEventListener("quality", ({ detail }) => {
      ui.setQuality(detail.peerId, detail.sample.quality, describe(detail.sample, this.S));
    });
    monitor.addEventListener("overall", ({ detail }) => {
      if (this.self) ui.setQuality(this.self.peer_id, detail.quality, "");
    });
    monitor.addEventListener("speaker", ({ detail }) => ui.setSpeaking(detail.peerId));
    monitor.addEventListener("weak", () => this.local.degrade(this.roster.size > 0));
    monitor.addEventListener("strong", () => this.local.recover());
  }

  _listenToUser() {
    const { ui, local, signaling } = this;
    ui.onDeviceChange((kind, deviceId) => local.changeDevice(kind, deviceId));
    ui.addEventListener("tab", ({ detail }) => { if (detail.tab === "chat") this.chat.markRead(); });
    ui.addEventListener("action", ({ detail }) => this.act(detail.action, detail.peerId, detail.kind));
    document.addEventListener("keydown", (ev) => {
      const hit = this.root.dataset.state === "call" ? shortcut(ev, ui.stage) : null;
      if (hit) this.act(hit.action, hit.peerId, hit.kind);
    });
    window.addEventListener("pagehide", () => {
      // Leave at once so the others do not wait for the grace period.
      if (signaling.state !== "closed" && signaling.state !== "idle") signaling.leave();
    });
  }

  /** A button of the page (data-action). */
  act(action, peerId, kind = null) {
    const { ui, local, signaling, S } = this;
    const who = peerId ? this.roster.get(peerId) : null;
    switch (action) {
      case "join": return this.join(local.video ? "av" : "audio");
      case "join-audio": return this.join("audio");
      case "join-viewer": return this.join("viewer");
      case "toggle-audio": return local.setMic(!local.micOn);
      case "toggle-video": return local.setCamera(!local.camOn);
      case "toggle-screen": return local.setScreen(!local.screen);
      case "toggle-hand": return local.toggleHand();
      // A mode the person chooses is theirs: the ladder will not undo it.
      case "toggle-lowbw": this.monitor.ladder.chosen(); return local.setLowBandwidth(!local.lowbw);
      case "toggle-audio-only": this.monitor.ladder.chosen(); return local.setAudioOnly(!local.audioOnly);
      case "toggle-side": return ui.toggleSide(true);
      case "pin": return peerId ? ui.stage.pin(tileKey(peerId, kind || "camera")) : undefined;
      case "spotlight":
        if (!this.isModerator() || !peerId) return undefined;
        // The same tile again takes it off everyone's stage.
        return signaling.send(ui.stage.isSpotlit(peerId, kind || "camera")
          ? { type: "spotlight", peer_id: null }
          : { type: "spotlight", peer_id: peerId, kind: kind || "camera" });
      case "toggle-layout": ui.stage.toggleLayout(); return ui.setLayoutControl(ui.stage.layout);
      case "fullscreen": return ui.stage.fullscreen();
      case "leave": return signaling.leave();
      case "rejoin": return window.location.reload();
      case "reopen": return this.reopening.reopen();
      case "toggle-record": return this.consent.toggle();
      case "consent-accept": return this.consent.answer(true);
      case "consent-decline": return this.consent.answer(false);
      case "consent-change": return ui.showConsentPrompt(false);
      case "dismiss-recording-alert": return ui.setRecordingAlert(null);
      case "end":
        if (ui.confirm(S.confirmEnd)) signaling.send({ type: "end" });
        return undefined;
      case "admit": return signaling.send({ type: "admit", peer_id: peerId });
      case "deny": return signaling.send({ type: "deny", peer_id: peerId });
      case "mute": return signaling.send({ type: "mute", peer_id: peerId, kind: "audio" });
      case "to-lobby": return signaling.send({ type: "send-to-lobby", peer_id: peerId });
      case "kick":
        if (who && ui.confirm(fmt(S.confirmKick, { name: who.name }))) signaling.send({ type: "kick", peer_id: peerId });
        return undefined;
      default: return undefined;
    }
  }
}
