// The consultation room: wires signalling, the mesh, local media, measurements and the DOM.
// A small read-mostly hook for the end-to-end tests is exposed as window.telemedRoom.

import { ChatPanel } from "./chat.js";
import * as media from "./media.js";
import { NetworkMonitor } from "./network.js";
import { PeerManager } from "./peers.js";
import { RECORDER_ID, RecorderLink } from "./recording.js";
import { SignalingClient } from "./signaling.js";
import { describe } from "./stats.js";
import { fmt, RoomUI } from "./ui.js";

const root = document.getElementById("room");
const config = JSON.parse(document.getElementById("room-config").textContent);
const S = config.strings;
const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const csrf = csrfMeta ? csrfMeta.content : "";

const ui = new RoomUI(root, S);
const meter = new media.LevelMeter();
const local = {
  audio: null, video: null, screen: null, audioId: "", videoId: "",
  micOn: false, camOn: false, hand: false, lowbw: false, audioOnly: false,
  cameras: 0, mics: 0,
};
const roster = new Map(); // remote peers: peer_id -> peer object
const presenceLog = []; // for tests: presence events as seen here
let self = null;
let selfShown = { track: null, stream: null }; // our own tile's stream, kept to avoid flicker
let lastError = null;
let levelTimer = null;
let joining = false;
// Recording: whether it is on, our own answer (null: none yet), everyone's answers by peer id.
const rec = { on: false, mine: null, consents: new Map() };

// ---- signalling and mesh -------------------------------------------------------------------

async function getJoinInfo() {
  const resp = await fetch(config.joinUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": csrf },
  });
  if (!resp.ok) {
    let message = "";
    try {
      const body = await resp.json();
      message = (body.error && body.error.message) || "";
    } catch { /* not JSON */ }
    const err = new Error(message);
    err.status = resp.status;
    // 4xx will not get better by retrying (except throttling); 5xx and network errors may.
    err.final = resp.status >= 400 && resp.status < 500 && resp.status !== 408 && resp.status !== 429;
    throw err;
  }
  return resp.json();
}

const signaling = new SignalingClient(getJoinInfo);
const peers = new PeerManager((frame) => signaling.send(frame));
const recorder = new RecorderLink((frame) => signaling.send(frame), []);
const monitor = new NetworkMonitor(peers, () => (local.micOn ? meter.rms() : 0));
const chat = new ChatPanel({
  list: document.getElementById("chat-list"),
  form: document.getElementById("chat-form"),
  input: document.getElementById("chat-input"),
  unread: document.getElementById("chat-unread"),
  send: (text) => signaling.send({ type: "chat", text }),
  isVisible: () => ui.sideVisible() && ui.currentTab() === "chat",
  strings: S,
});

function myState() {
  return {
    audio: Boolean(local.audio && local.micOn),
    video: Boolean(local.video && local.camOn && !local.audioOnly),
    hand: local.hand,
    screen: Boolean(local.screen),
  };
}

function sendState() {
  if (self) Object.assign(self, myState());
  signaling.send({ type: "state", ...myState() });
  refreshSelf();
}

function refreshSelf() {
  ui.setControls({
    ...myState(),
    lowbw: local.lowbw,
    audioOnly: local.audioOnly,
    hasMic: Boolean(local.audio) || local.mics > 0,
    hasCamera: Boolean(local.video) || local.cameras > 0,
    canShare: media.canShareScreen(),
  });
  if (!self) return;
  Object.assign(self, myState());
  ui.upsertTile(self, { self: true });
  const shown = local.screen || (local.camOn ? local.video : null);
  if (shown !== selfShown.track) {
    selfShown = { track: shown, stream: shown ? new MediaStream([shown]) : null };
  }
  ui.setTileStream(self.peer_id, selfShown.stream);
  renderPeople();
}

function isModerator() {
  return Boolean(self && self.role === "moderator");
}

function renderPeople() {
  const all = self ? [self, ...roster.values()] : [...roster.values()];
  const consents = new Map(rec.consents);
  if (self && rec.mine !== null) consents.set(self.peer_id, rec.mine);
  ui.renderPeople(all, {
    selfId: self && self.peer_id, moderator: isModerator(), recording: rec.on, consents,
  });
  applyLimits();
}

function applyLimits() {
  // A mesh sends one copy per peer: share a ~1.6 Mbit/s uplink between them.
  const n = Math.max(1, roster.size);
  let limits;
  if (local.screen) limits = { maxBitrate: local.lowbw ? 300000 : 1200000, scale: 1 };
  else if (local.lowbw) limits = { maxBitrate: 150000, scale: 2 };
  else limits = { maxBitrate: Math.max(250000, Math.min(800000, 1600000 / n)), scale: 1 };
  const cur = peers.limits;
  if (cur.maxBitrate !== limits.maxBitrate || cur.scale !== limits.scale) {
    peers.setVideoLimits(limits);
    recorder.setLimits(limits);
  }
}

function addPeer(peer) {
  roster.set(peer.peer_id, peer);
  ui.upsertTile(peer);
  const link = peers.get(peer.peer_id);
  if (link) ui.setTileStream(peer.peer_id, link.stream);
  ui.setTileConnecting(peer.peer_id, !link || link.pc.connectionState !== "connected");
}

function dropPeer(peerId) {
  roster.delete(peerId);
  peers.remove(peerId);
  ui.removeTile(peerId);
}

signaling.addEventListener("welcome", ({ detail: msg }) => {
  peers.configure(msg.peer_id, msg.ice_servers);
  recorder.iceServers = msg.ice_servers || [];
  monitor.selfId = msg.peer_id;
  const listed = new Map((msg.peers || []).map((p) => [p.peer_id, p]));
  if (msg.resumed) {
    for (const id of [...roster.keys()]) if (!listed.has(id)) dropPeer(id);
    for (const p of listed.values()) addPeer(p);
  } else {
    // A new session: everything from a previous one is gone on the other side too.
    peers.closeAll();
    recorder.close();
    rec.on = false;
    rec.mine = null;
    rec.consents.clear();
    for (const id of [...roster.keys()]) dropPeer(id);
    ui.clearTiles();
    for (const p of listed.values()) {
      addPeer(p);
      peers.connectTo(p.peer_id); // the newcomer offers
    }
  }
  self = { ...(msg.self || {}), peer_id: msg.peer_id, role: msg.role };
  if (!self.name) self.name = config.me.name;
  ui.setView("call");
  ui.setBanner(null);
  setRecordingState(Boolean(msg.recording));
  sendState();
  monitor.start();
});

signaling.addEventListener("status", ({ detail }) => {
  if (detail.state === "reconnecting") {
    ui.setBanner(S.reconnecting, "warning");
    ui.setStatus(S.reconnecting);
  } else if (detail.state === "joined") {
    ui.setStatus(S.connected);
  } else if (detail.state === "connecting") {
    ui.setStatus(S.connecting);
  } else if (detail.state === "lobby") {
    ui.setView("lobby");
    ui.setStatus(S.waitingLobby);
  } else if (detail.state === "closed") {
    finish(detail.code);
  }
});

for (const type of ["offer", "answer", "candidate"]) {
  signaling.addEventListener(type, ({ detail }) => {
    if (detail.from === RECORDER_ID) {
      recorder.handle(detail).catch((err) => console.warn("recorder answer", err));
    } else {
      peers.handleSignal(detail);
    }
  });
}

signaling.addEventListener("peer-joined", ({ detail }) => {
  presenceLog.push(["joined", detail.peer.peer_id]);
  addPeer(detail.peer);
  renderPeople();
  ui.toast(fmt(S.peerJoined, { name: detail.peer.name }));
});

signaling.addEventListener("peer-left", ({ detail }) => {
  presenceLog.push(["left", detail.peer_id, detail.reason]);
  const peer = roster.get(detail.peer_id);
  dropPeer(detail.peer_id);
  renderPeople();
  // When the session ends everybody leaves at once: the "ended" screen says it all.
  if (peer && detail.reason !== "ended") ui.toast(fmt(S.peerLeft, { name: peer.name }));
});

signaling.addEventListener("peers", ({ detail }) => {
  const listed = new Map((detail.peers || []).filter((p) => p.peer_id !== signaling.peerId).map((p) => [p.peer_id, p]));
  for (const id of [...roster.keys()]) if (!listed.has(id)) dropPeer(id);
  for (const p of listed.values()) {
    addPeer(p);
    // After a resync the smaller peer_id offers where no connection works.
    if (!peers.isAlive(p.peer_id) && signaling.peerId < p.peer_id) peers.connectTo(p.peer_id);
  }
  if (typeof detail.recording === "boolean") setRecordingState(detail.recording);
  renderPeople();
});

signaling.addEventListener("state", ({ detail }) => {
  const peer = roster.get(detail.peer_id);
  if (!peer) return;
  const wasHand = peer.hand;
  Object.assign(peer, { audio: detail.audio, video: detail.video, hand: detail.hand, screen: detail.screen });
  ui.upsertTile(peer);
  renderPeople();
  if (peer.hand && !wasHand) ui.toast(fmt(S.raisedHand, { name: peer.name }));
});

signaling.addEventListener("chat", ({ detail }) => chat.add(detail, detail.from === signaling.peerId));

signaling.addEventListener("lobby-update", ({ detail }) => {
  const before = Number(document.getElementById("lobby-count")?.textContent || 0);
  ui.renderLobby(detail.waiting || []);
  if ((detail.waiting || []).length > before) ui.toast(S.someoneWaiting);
});

signaling.addEventListener("mute", ({ detail }) => {
  if (detail.kind === "video") setCamera(false);
  else setMic(false);
  ui.toast(detail.kind === "video" ? S.camStoppedByChair : S.mutedByChair);
});

// ---- recording with consent ------------------------------------------------------------------

/** What we send to the recorder: the same tracks as to the others (no video in audio-only). */
function recorderTracks() {
  return { audio: peers.tracks.audio, video: local.audioOnly ? null : peers.tracks.video };
}

function setRecordingState(on) {
  if (on !== rec.on) {
    // A new recording asks everyone again; answers to an earlier one do not carry over.
    rec.consents.clear();
    rec.mine = null;
  }
  rec.on = on;
  if (!on) recorder.close();
  ui.setRecording(on, rec.mine);
  renderPeople();
}

function openRecorderLink() {
  const tracks = recorderTracks();
  if (!tracks.audio && !tracks.video) return; // joined as a viewer: nothing to record yet
  recorder.open(tracks).catch((err) => console.warn("recorder offer", err));
}

function answerConsent(accept) {
  ui.hideConsentPrompt();
  if (!rec.on) return;
  rec.mine = accept;
  signaling.send({ type: "recording-consent", accept });
  // The server has our answer before the offer: both go over the same socket, in order.
  if (!accept) recorder.close();
  else if (!recorder.active) openRecorderLink();
  ui.setRecording(true, accept);
  renderPeople();
}

signaling.addEventListener("recording", ({ detail }) => {
  const was = rec.on;
  setRecordingState(Boolean(detail.on));
  if (detail.on && !was) ui.toast(S.recordingStarted);
  if (!detail.on && was) {
    if (detail.reason === "failed") ui.setRecordingAlert(S.recordingFailed);
    else ui.toast(S.recordingStopped);
  }
});

signaling.addEventListener("recording-consent-request", ({ detail }) => {
  if (!rec.on) setRecordingState(true);
  if (rec.mine === null) ui.showConsentPrompt(Boolean(detail.by));
});

signaling.addEventListener("recording-consent", ({ detail }) => {
  if (!rec.on) return;
  rec.consents.set(detail.peer_id, Boolean(detail.accept));
  if (detail.peer_id === signaling.peerId) {
    rec.mine = Boolean(detail.accept);
    ui.setRecording(true, rec.mine);
  } else if (isModerator()) {
    ui.toast(fmt(detail.accept ? S.consentByYes : S.consentByNo, { name: detail.name }));
  }
  renderPeople();
});

recorder.addEventListener("lost", () => ui.setRecordingAlert(S.recorderGaveUp));

function onRecordingError(detail) {
  if (detail.code === "recorder-failed") {
    if (isModerator()) ui.setRecordingAlert(fmt(S.recorderFailed, { detail: detail.message || "" }));
    // Moderators also hear about other people's connections: offer again only if ours is down.
    if (recorder.active && recorder.pc && recorder.pc.connectionState !== "connected" && rec.mine) {
      ui.toast(S.recorderLost);
      openRecorderLink();
    }
  } else if (detail.code === "bad-offer") {
    recorder.close();
    ui.toast(S.recorderBadOffer);
  } else {
    recorder.close(); // not-recording, consent-required: the server refused our media
  }
  ui.setRecording(rec.on, rec.mine); // re-enables the chair's Record button
}
signaling.addEventListener("kicked", () => { lastError = "kicked"; });
signaling.addEventListener("ended", () => { lastError = "ended"; });
signaling.addEventListener("error", ({ detail }) => {
  if (detail.code === "room-full" && signaling.state === "joined") {
    // The answer to our `admit`: the waiting peer stays in the lobby.
    ui.toast(S.roomFullAdmit);
  } else if (["room-full", "room-ended", "kicked", "denied"].includes(detail.code)) {
    lastError = detail.code;
  } else if (["recorder-failed", "bad-offer", "not-recording", "consent-required"].includes(detail.code)) {
    onRecordingError(detail);
  } else if (detail.code !== "peer-not-found") {
    console.warn("signalling error", detail);
  }
});

peers.addEventListener("track", ({ detail }) => {
  if (roster.has(detail.peerId)) ui.setTileStream(detail.peerId, detail.stream);
});
peers.addEventListener("connection", ({ detail }) => {
  ui.setTileConnecting(detail.peerId, detail.state !== "connected");
  if (detail.state === "connected") applyLimits();
});

monitor.addEventListener("quality", ({ detail }) => {
  ui.setQuality(detail.peerId, detail.sample.quality, describe(detail.sample, S));
});
monitor.addEventListener("overall", ({ detail }) => {
  if (self) ui.setQuality(self.peer_id, detail.quality, "");
});
monitor.addEventListener("speaker", ({ detail }) => ui.setSpeaking(detail.peerId));
monitor.addEventListener("weak", () => {
  if (!local.lowbw) {
    setLowBandwidth(true);
    ui.toast(S.autoLowBandwidth);
  } else if (!local.audioOnly && (local.video || roster.size)) {
    setAudioOnly(true);
    ui.toast(S.autoAudioOnly);
  }
});

function finish(code) {
  monitor.stop();
  peers.closeAll();
  recorder.close();
  for (const t of [local.audio, local.video, local.screen]) media.stopTrack(t);
  meter.close();
  clearInterval(levelTimer);
  const E = S.ended;
  const reason =
    lastError === "kicked" ? E.kicked
    : lastError === "denied" ? E.denied
    : lastError === "room-full" || code === 4413 ? E.full
    : lastError === "ended" || lastError === "room-ended" || code === 4410 ? E.ended
    : code === 4409 ? E.replaced
    : code === 4401 || code === 401 ? E.signedOut
    : code === 4403 || code === 4404 || code === 404 ? E.forbidden
    : code === 1000 ? E.left
    : code === 409 ? E.notOpen
    : E.error;
  const canRejoin = [E.left, E.replaced, E.error, E.full, E.notOpen].includes(reason);
  ui.hideToast();
  ui.showEnded(reason.title, reason.text, canRejoin);
  ui.setStatus("");
}

// ---- local media ---------------------------------------------------------------------------

/** Send this track (or nothing) to everyone, the recorder included when we consented. */
async function sendTrack(kind, track) {
  await peers.setTrack(kind, track);
  await recorder.setTrack(kind, kind === "video" && local.audioOnly ? null : track);
  if (track && rec.on && rec.mine && !recorder.active) openRecorderLink();
}

async function setMic(on) {
  if (on && !local.audio) {
    // Joined without a microphone (as a viewer): open it now.
    try {
      local.audio = await media.openAudio(local.audioId);
    } catch (err) {
      ui.toast(S.mediaErrors[media.mediaErrorKind(err)] || S.mediaErrors.error);
      return;
    }
    await sendTrack("audio", local.audio);
  }
  if (!local.audio) return;
  local.micOn = on;
  local.audio.enabled = on;
  sendState();
}

async function setCamera(on) {
  if (!on) {
    local.camOn = false;
    if (!local.screen) await sendTrack("video", null);
    media.stopTrack(local.video);
    local.video = null;
  } else {
    try {
      local.video = await media.openVideo(local.videoId);
    } catch (err) {
      ui.toast(S.mediaErrors[media.mediaErrorKind(err)] || S.mediaErrors.error);
      return;
    }
    local.camOn = true;
    if (!local.screen) await sendTrack("video", local.video);
  }
  sendState();
}

async function setScreen(on) {
  if (on) {
    let track;
    try {
      track = await media.openScreen();
    } catch {
      ui.toast(S.screenFailed);
      return;
    }
    local.screen = track;
    track.addEventListener("ended", () => { if (local.screen === track) setScreen(false); });
    await sendTrack("video", track);
  } else {
    const track = local.screen;
    local.screen = null;
    await sendTrack("video", local.camOn ? local.video : null);
    media.stopTrack(track);
  }
  applyLimits();
  sendState();
}

function setLowBandwidth(on) {
  local.lowbw = on;
  monitor.resetWeak();
  applyLimits();
  refreshSelf();
}

function setAudioOnly(on) {
  local.audioOnly = on;
  root.classList.toggle("audio-only", on);
  monitor.resetWeak();
  peers.setAudioOnly(on);
  recorder.setTrack("video", on ? null : peers.tracks.video);
  sendState();
}

async function openPreview() {
  const got = await media.openLocal({ audioId: local.audioId, videoId: local.videoId });
  local.audio = got.audio;
  local.video = got.video;
  local.micOn = Boolean(got.audio);
  local.camOn = Boolean(got.video);
  if (got.audio) local.audioId = got.audio.getSettings().deviceId || "";
  if (got.video) local.videoId = got.video.getSettings().deviceId || "";
  ui.setPreview(got.video);
  ui.setMediaError(got.error, Boolean(got.audio), Boolean(got.video));
  meter.attach(got.audio);
  await fillDevices();
}

async function fillDevices() {
  const devices = await media.listDevices();
  local.cameras = devices.video.length;
  local.mics = devices.audio.length;
  ui.setDevices("prejoin-camera", devices.video, local.videoId, S.camera);
  ui.setDevices("prejoin-mic", devices.audio, local.audioId, S.microphone);
}

ui.onDeviceChange(async (kind, deviceId) => {
  try {
    const track = kind === "audio" ? await media.openAudio(deviceId) : await media.openVideo(deviceId);
    media.stopTrack(local[kind]);
    local[kind] = track;
    if (kind === "audio") {
      local.audioId = deviceId;
      local.micOn = true;
      meter.attach(track);
    } else {
      local.videoId = deviceId;
      local.camOn = true;
      ui.setPreview(track);
    }
    ui.setMediaError(null, Boolean(local.audio), Boolean(local.video));
  } catch (err) {
    ui.setMediaError(media.mediaErrorKind(err), Boolean(local.audio), Boolean(local.video));
  }
});

async function join(mode) {
  if (joining) return; // a double click must not open two sessions
  joining = true;
  meter.resume();
  if (mode === "viewer") {
    media.stopTrack(local.audio);
    local.audio = null;
    local.micOn = false;
  }
  if (mode !== "av") {
    media.stopTrack(local.video);
    local.video = null;
    local.camOn = false;
  }
  ui.setPreview(null);
  local.lowbw = ui.lowBandwidthChecked();
  if (ui.audioOnlyChecked()) {
    local.audioOnly = true;
    root.classList.add("audio-only");
    peers.setAudioOnly(true);
  }
  await sendTrack("audio", local.audio);
  await sendTrack("video", local.video);
  refreshSelf();
  ui.setView("call");
  ui.setBanner(S.connecting, "info");
  // Earlier messages first, so live ones arrive below them in order.
  await loadChatHistory();
  await signaling.connect();
}

async function loadChatHistory() {
  try {
    // A slow link must not hold up joining for long: the live chat works without the history.
    const resp = await fetch(config.chatUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: AbortSignal.timeout(5000),
    });
    if (!resp.ok) return;
    const data = await resp.json();
    for (const line of data.items || []) chat.add({ name: line.name, text: line.text, time: line.at });
  } catch { /* the live chat still works */ }
}

// ---- user actions --------------------------------------------------------------------------

ui.addEventListener("tab", ({ detail }) => { if (detail.tab === "chat") chat.markRead(); });

ui.addEventListener("action", ({ detail }) => {
  const { action, peerId } = detail;
  const who = peerId ? roster.get(peerId) : null;
  switch (action) {
    case "join": return join(local.video ? "av" : "audio");
    case "join-audio": return join("audio");
    case "join-viewer": return join("viewer");
    case "toggle-audio": return setMic(!local.micOn);
    case "toggle-video": return setCamera(!local.camOn);
    case "toggle-screen": return setScreen(!local.screen);
    case "toggle-hand": local.hand = !local.hand; return sendState();
    case "toggle-lowbw": return setLowBandwidth(!local.lowbw);
    case "toggle-audio-only": return setAudioOnly(!local.audioOnly);
    case "toggle-side": return ui.toggleSide();
    case "leave": return signaling.leave();
    case "rejoin": return window.location.reload();
    case "toggle-record":
      ui.setRecordBusy();
      return signaling.send({ type: "record", on: !rec.on });
    case "consent-accept": return answerConsent(true);
    case "consent-decline": return answerConsent(false);
    case "consent-change": return ui.showConsentPrompt(false);
    case "dismiss-recording-alert": return ui.setRecordingAlert(null);
    case "end":
      if (ui.confirm(S.confirmEnd)) signaling.send({ type: "end" });
      return undefined;
    case "admit": return signaling.send({ type: "admit", peer_id: peerId });
    case "deny": return signaling.send({ type: "deny", peer_id: peerId });
    case "mute": return signaling.send({ type: "mute", peer_id: peerId, kind: "audio" });
    case "kick":
      if (who && ui.confirm(fmt(S.confirmKick, { name: who.name }))) signaling.send({ type: "kick", peer_id: peerId });
      return undefined;
    default: return undefined;
  }
});

window.addEventListener("pagehide", () => {
  // Leave at once so the others do not wait for the grace period.
  if (signaling.state !== "closed" && signaling.state !== "idle") signaling.leave();
});

// ---- test hook -----------------------------------------------------------------------------

window.telemedRoom = {
  get view() { return root.dataset.state; },
  get peerId() { return signaling.peerId; },
  get signalingState() { return signaling.state; },
  get micEnabled() { return Boolean(local.audio && local.audio.enabled); },
  connections: () => peers.connections(),
  peers: () => [...roster.values()].map((p) => ({ ...p })),
  presence: () => presenceLog.slice(),
  dropSocket: () => signaling.dropSocket(),
  recording: () => ({
    on: rec.on,
    mine: rec.mine,
    consents: Object.fromEntries(rec.consents),
    recorder: recorder.pc ? recorder.pc.connectionState : null,
  }),
  /** Bytes of audio and video sent to the recorder so far (0 when not connected). */
  async recorderBytesSent() {
    if (!recorder.pc) return { audio: 0, video: 0 };
    const out = { audio: 0, video: 0 };
    (await recorder.pc.getStats()).forEach((r) => {
      if (r.type === "outbound-rtp") out[r.kind] = (out[r.kind] || 0) + (r.bytesSent || 0);
    });
    return out;
  },
  join: (mode = "av") => join(mode),
  async inboundVideo() {
    const out = [];
    for (const [peerId, pc] of peers.connections()) {
      let frames = 0;
      (await pc.getStats()).forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
      });
      out.push({ peerId, framesDecoded: frames, state: pc.connectionState });
    }
    return out;
  },
};

// ---- start ---------------------------------------------------------------------------------

// The network test page leaves its last verdict in this browser's storage.
function applyNetworkTest() {
  let verdict = null;
  let at = null;
  let low = false;
  try {
    low = localStorage.getItem("telemed.lowBandwidth") === "1";
    const saved = JSON.parse(localStorage.getItem("telemed.networkVerdict") || "null");
    if (saved && typeof saved.verdict === "string") ({ verdict, at } = saved);
  } catch { /* storage disabled or garbled: no advice */ }
  const texts = S.network;
  if (!verdict || !(verdict in texts) || verdict === "none") {
    ui.setNetworkNote(texts.none, "");
    ui.setPrejoinChoices({ lowbw: low, audioOnly: false });
    return;
  }
  const when = at && !Number.isNaN(Date.parse(at))
    ? new Date(at).toLocaleString(document.documentElement.lang || "vi", { dateStyle: "short", timeStyle: "short" })
    : "";
  ui.setNetworkNote(fmt(texts[verdict], { when }), verdict);
  ui.setPrejoinChoices({
    lowbw: low || verdict === "reduced" || verdict === "audio",
    audioOnly: verdict === "audio",
  });
}

applyNetworkTest();

// Browsers keep an AudioContext suspended until the first click or key press on the page.
for (const type of ["pointerdown", "keydown"]) {
  document.addEventListener(type, () => meter.resume(), { once: true, capture: true });
}
levelTimer = setInterval(() => {
  if (root.dataset.state === "prejoin") ui.setLevel(meter.level());
}, 100);
document.getElementById("join-viewer-button").disabled = false;
openPreview().catch((err) => {
  ui.setMediaError(media.mediaErrorKind(err), false, false);
});
