// The room's DOM: views, participant tiles, lists, controls, banners. No WebRTC code here.
// User actions are reported as "action" events ({action, peerId, tab, value}) from elements
// carrying data-action, so the wiring lives in controller.js.

import { renderLobby, renderPeople, titleOf } from "./people.js";
import { Stage, tileKey } from "./stage.js";

const $ = (id) => document.getElementById(id);

/** Fill "{name}"-style placeholders. */
export function fmt(text, values = {}) {
  return String(text).replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}

function initials(name) {
  const words = String(name || "").replace(/^(BS|PGS|GS|TS|ThS|CN|ĐD|KTV)[.\s]+/i, "").trim().split(/\s+/);
  const last = words[words.length - 1] || "";
  return last.slice(0, 2).toUpperCase();
}

export class RoomUI extends EventTarget {
  constructor(root, strings) {
    super();
    this.root = root;
    this.S = strings;
    this.box = $("room-grid");
    this.strip = $("room-strip");
    this.tileTemplate = $("room-tile-template");
    this.tiles = new Map(); // by tile key (see stage.js)
    // On a phone the side panel is a sheet over the call: closed until asked for.
    if (window.matchMedia("(max-width: 800px), (max-height: 500px)").matches) {
      root.classList.add("side-hidden");
      $("control-side").setAttribute("aria-pressed", "false");
    }
    this.stage = new Stage({ box: this.box, stage: $("room-stage"), strip: this.strip, tiles: this.tiles, strings });
    this.speaking = null;
    this.toastTimer = null;
    root.addEventListener("click", (ev) => {
      const el = ev.target.closest("[data-action]");
      if (!el || !root.contains(el) || el.disabled) return;
      if (el.tagName === "SELECT" || el.tagName === "INPUT") return;
      ev.preventDefault();
      const detail = {
        action: el.dataset.action,
        peerId: el.dataset.peerId || null,
        tab: el.dataset.tab || null,
        kind: el.dataset.kind || null,
      };
      if (detail.action === "tab") this.showTab(detail.tab);
      this.dispatchEvent(new CustomEvent("action", { detail }));
    });
  }

  // ---- views -------------------------------------------------------------------------------

  /** prejoin | lobby | call | ended */
  setView(view) {
    this.root.dataset.state = view;
  }

  /** The one-line status under the title (also announced to screen readers). */
  setStatus(text) {
    $("room-status").textContent = text || "";
  }

  /** The banner over the grid, e.g. "Đang kết nối lại…"; null hides it. */
  setBanner(text, kind = "warning") {
    const el = $("room-banner");
    el.textContent = text || "";
    el.dataset.kind = kind;
    el.hidden = !text;
  }

  /** A short message that goes away by itself. */
  toast(text) {
    let el = document.getElementById("room-toast");
    if (!el) {
      el = document.createElement("p");
      el.id = "room-toast";
      el.className = "room-toast";
      el.setAttribute("role", "status");
      this.root.appendChild(el);
    }
    el.textContent = text;
    el.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { el.hidden = true; }, 5000);
  }

  hideToast() {
    clearTimeout(this.toastTimer);
    const el = document.getElementById("room-toast");
    if (el) el.hidden = true;
  }

  showEnded(title, text, canRejoin) {
    $("room-ended-title").textContent = title;
    $("room-ended-text").textContent = text || "";
    $("room-rejoin").hidden = !canRejoin;
    this.setBanner(null);
    this.setView("ended");
  }

  // ---- pre-join ----------------------------------------------------------------------------

  setPreview(track) {
    const video = $("prejoin-video");
    video.srcObject = track ? new MediaStream([track]) : null;
    $("prejoin-novideo").hidden = Boolean(track);
  }

  setDevices(selectId, devices, selected, noneLabel) {
    const select = $(selectId);
    select.replaceChildren();
    devices.forEach((d, i) => {
      const opt = document.createElement("option");
      opt.value = d.deviceId;
      opt.textContent = d.label || `${noneLabel} ${i + 1}`;
      opt.selected = d.deviceId === selected;
      select.appendChild(opt);
    });
    if (!devices.length) {
      const opt = document.createElement("option");
      opt.value = "";
      opt.textContent = this.S.noDevice;
      select.appendChild(opt);
    }
    select.disabled = !devices.length;
  }

  onDeviceChange(handler) {
    $("prejoin-camera").addEventListener("change", (ev) => handler("video", ev.target.value));
    $("prejoin-mic").addEventListener("change", (ev) => handler("audio", ev.target.value));
  }

  setLevel(value) {
    $("prejoin-level").value = value;
  }

  /** Explain why media is missing; offers the audio-only button when a microphone works. */
  setMediaError(kind, hasAudio, hasVideo) {
    const el = $("prejoin-error");
    el.textContent = kind ? this.S.mediaErrors[kind] || this.S.mediaErrors.error : "";
    el.hidden = !kind;
    $("join-button").disabled = !hasAudio && !hasVideo;
    $("join-audio-button").hidden = !(hasAudio && !hasVideo && kind);
    if (hasAudio && !hasVideo && kind) $("join-button").hidden = true;
    else $("join-button").hidden = false;
  }

  lowBandwidthChecked() {
    return $("prejoin-lowbw").checked;
  }

  audioOnlyChecked() {
    const box = $("prejoin-audio-only");
    return Boolean(box && box.checked);
  }

  /** Pre-select the pre-join choices (from the last network test). */
  setPrejoinChoices({ lowbw = false, audioOnly = false } = {}) {
    $("prejoin-lowbw").checked = lowbw;
    const box = $("prejoin-audio-only");
    if (box) box.checked = audioOnly;
  }

  /** What the last network test said, and why the choices above are pre-selected. */
  setNetworkNote(text, verdict) {
    const el = $("prejoin-network-note");
    if (!el) return;
    el.textContent = text || "";
    el.dataset.verdict = verdict || "";
  }

  // ---- tiles -------------------------------------------------------------------------------

  _newTile(key, peerId, kind) {
    const tile = this.tileTemplate.content.firstElementChild.cloneNode(true);
    tile.dataset.key = key;
    tile.dataset.kind = kind;
    for (const b of tile.querySelectorAll(".tile-action")) {
      b.dataset.peerId = peerId;
      b.dataset.kind = kind;
    }
    this.tiles.set(key, tile);
    this.strip.appendChild(tile);
    return tile;
  }

  /** Add or refresh a participant's tile. */
  upsertTile(peer, { self = false } = {}) {
    let tile = this.tiles.get(peer.peer_id);
    if (!tile) {
      tile = this._newTile(peer.peer_id, peer.peer_id, "camera");
      tile.dataset.peerId = peer.peer_id;
      if (self) {
        tile.classList.add("tile-self");
        tile.querySelector("video").muted = true;
        this.stage.selfId = peer.peer_id;
      }
      this.stage.render();
    }
    const name = peer.name + (self ? ` ${this.S.you}` : "");
    tile.dataset.name = peer.name;
    tile.setAttribute("aria-label", name);
    tile.querySelector(".tile-name").textContent = name;
    tile.querySelector(".tile-initials").textContent = initials(peer.name);
    tile.querySelector(".tile-meta").textContent = [titleOf(peer), peer.facility].filter(Boolean).join(" · ");
    const showsVideo = peer.video !== false;
    tile.classList.toggle("is-muted", peer.audio === false);
    tile.classList.toggle("has-video", showsVideo && Boolean(tile.dataset.stream));
    tile.classList.toggle("video-off", !showsVideo);
    tile.classList.toggle("hand-up", Boolean(peer.hand));
    tile.classList.toggle("is-sharing", Boolean(peer.screen));
    tile.classList.toggle("is-moderator", peer.role === "moderator");
    tile.dataset.audio = String(peer.audio !== false);
    tile.dataset.video = String(showsVideo);
    this.stage._label(peer.peer_id, tile);
    return tile;
  }

  /** Show a participant's shared screen as a tile of its own (stream null removes it). */
  setScreenTile(peer, stream, { self = false } = {}) {
    const key = tileKey(peer.peer_id, "screen");
    let tile = this.tiles.get(key);
    if (!stream) {
      if (tile) this.removeTile(key);
      return;
    }
    if (!tile) {
      tile = this._newTile(key, peer.peer_id, "screen");
      tile.dataset.screenOf = peer.peer_id;
      tile.classList.add("tile-screen");
      if (self) tile.classList.add("tile-self-screen");
      tile.querySelector("video").muted = true;
      this.stage.setScreen(key, true);
      // A shared screen needs the width: fold the side panel once, unless it was chosen.
      if (!self && !this.sideChosen && this.sideVisible() && window.innerWidth < 1600) {
        this.toggleSide();
        this.toast(this.S.sideFolded);
      }
    }
    const name = fmt(self ? this.S.ownScreen : this.S.screenOf, { name: peer.name });
    tile.dataset.name = name;
    tile.setAttribute("aria-label", name);
    tile.querySelector(".tile-name").textContent = name;
    tile.querySelector(".tile-initials").textContent = "";
    tile.dataset.video = "true";
    this.setTileStream(key, stream);
    this.stage.render();
  }

  setTileStream(peerId, stream) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    const video = tile.querySelector("video");
    if (video.srcObject !== stream) video.srcObject = stream;
    tile.dataset.stream = stream ? "1" : "";
    tile.classList.toggle("has-video", Boolean(stream) && tile.dataset.video !== "false");
    if (stream) video.play().catch(() => {});
  }

  setTileConnecting(peerId, connecting) {
    const tile = this.tiles.get(peerId);
    if (tile) tile.classList.toggle("is-connecting", connecting);
  }

  /** Remove a tile by key; a peer's camera tile takes its screen tile with it. */
  removeTile(key) {
    if (!key.endsWith(":screen") && this.tiles.has(tileKey(key, "screen"))) this.removeTile(tileKey(key, "screen"));
    const tile = this.tiles.get(key);
    if (!tile) return;
    tile.querySelector("video").srcObject = null;
    tile.remove();
    this.tiles.delete(key);
    if (key.endsWith(":screen")) this.stage.setScreen(key, false);
    this.stage.render();
  }

  clearTiles() {
    for (const id of [...this.tiles.keys()]) this.removeTile(id);
  }

  setSpeaking(peerId) {
    if (this.speaking === peerId) return;
    const old = this.tiles.get(this.speaking);
    if (old) old.classList.remove("is-speaking");
    this.speaking = peerId;
    const tile = this.tiles.get(peerId);
    if (tile) tile.classList.add("is-speaking");
    this.stage.setSpeaker(peerId);
  }

  setQuality(peerId, level, title) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    const el = tile.querySelector(".tile-quality");
    el.dataset.quality = level;
    const label = this.S.quality[level] || "";
    el.title = title ? `${label} · ${title}` : label;
    el.setAttribute("aria-label", label);
  }

  // ---- side panel --------------------------------------------------------------------------

  showTab(name) {
    for (const tab of this.root.querySelectorAll(".side-tab")) {
      tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
    }
    for (const panel of this.root.querySelectorAll(".side-panel")) {
      panel.hidden = panel.dataset.panel !== name;
    }
    this.dispatchEvent(new CustomEvent("tab", { detail: { tab: name } }));
  }

  currentTab() {
    const sel = this.root.querySelector('.side-tab[aria-selected="true"]');
    return sel ? sel.dataset.tab : null;
  }

  sideVisible() {
    return !this.root.classList.contains("side-hidden");
  }

  toggleSide(chosen = false) {
    if (chosen) this.sideChosen = true;
    this.root.classList.toggle("side-hidden");
    $("control-side").setAttribute("aria-pressed", String(this.sideVisible()));
  }

  /** The participant list (see people.js). */
  renderPeople(peers, options) {
    renderPeople(this.S, peers, options);
  }

  /** The lobby panel (moderators): who waits, with admit and deny. */
  renderLobby(waiting) {
    renderLobby(this.S, waiting);
  }

  // ---- recording ---------------------------------------------------------------------------

  /**
   * The recording indicator, shown the whole time the room is recorded, with our own answer
   * (`mine`: true, false or null when not answered yet).
   */
  setRecording(on, mine = null) {
    this.root.classList.toggle("is-recording", on);
    $("room-recording").hidden = !on;
    const text = mine === true ? this.S.mineAccepted : mine === false ? this.S.mineDeclined : this.S.minePending;
    $("recording-mine").textContent = on ? text : "";
    $("recording-mine").dataset.consent = mine === true ? "accepted" : mine === false ? "declined" : "pending";
    const record = $("control-record");
    if (record) {
      record.setAttribute("aria-pressed", String(on));
      record.textContent = on ? this.S.recordStop : this.S.recordStart;
      record.disabled = false;
    }
    if (!on) this.hideConsentPrompt();
  }

  /** The chair's Record button while its request is on the way. */
  setRecordBusy() {
    const record = $("control-record");
    if (record) record.disabled = true;
  }

  /** Ask whether we agree to be recorded; `started` says whether the chair just started it. */
  showConsentPrompt(started) {
    $("consent-title").textContent = started ? this.S.consentTitleStarted : this.S.consentTitleOngoing;
    $("consent-prompt").hidden = false;
    $("consent-accept").focus();
  }

  hideConsentPrompt() {
    $("consent-prompt").hidden = true;
  }

  /** A recording problem that must not go unnoticed; null hides it. */
  setRecordingAlert(text) {
    const el = $("recording-alert");
    $("recording-alert-text").textContent = text || "";
    el.hidden = !text;
  }

  // ---- controls ----------------------------------------------------------------------------

  /** Reflect our own media state on the control buttons. */
  setControls({ audio, video, screen, hand, lowbw, audioOnly, hasMic, hasCamera, canShare }) {
    const S = this.S;
    this._control("control-audio", !audio, audio ? S.micTurnOff : S.micTurnOn, !hasMic);
    this._control("control-video", !video, video ? S.camTurnOff : S.camTurnOn, !hasCamera || audioOnly);
    // Stopping a share is always possible, even after falling back to audio only.
    this._control("control-screen", screen, screen ? S.shareStop : S.shareStart, !canShare || (audioOnly && !screen));
    // A device that cannot share its screen (phones) is not offered the button at all.
    $("control-screen").hidden = !canShare;
    // Nor one that cannot show an element on the whole screen (iPhone).
    $("control-fullscreen").hidden = !document.fullscreenEnabled;
    this.setLayoutControl(this.stage.layout);
    this._control("control-hand", hand, hand ? S.handDown : S.handUp, false);
    this._control("control-lowbw", lowbw, S.lowBandwidth, false);
    this._control("control-audio-only", audioOnly, S.audioOnly, false);
  }

  /** The layout button says which layout a press gives. */
  setLayoutControl(layout) {
    const el = $("control-layout");
    if (!el) return;
    el.setAttribute("aria-pressed", String(layout === "grid"));
    el.textContent = layout === "grid" ? this.S.layoutStage : this.S.layoutGrid;
  }

  _control(id, pressed, label, disabled) {
    const el = $(id);
    if (!el) return;
    el.setAttribute("aria-pressed", String(Boolean(pressed)));
    el.textContent = label;
    el.disabled = Boolean(disabled);
  }

  confirm(text) {
    return window.confirm(text);
  }
}
