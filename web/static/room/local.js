// Our own microphone, camera and screen: opening and switching them, the devices and the level
// meter of the page before joining, the low-bandwidth and audio-only modes. What we send goes
// to every peer and, when we agreed to be recorded, to the recorder.

import * as media from "./media.js";

export class LocalMedia {
  /**
   * @param {object} parts what the room is made of:
   * @param {HTMLElement} parts.root the room's element (it carries the audio-only class).
   * @param {import("./ui.js").RoomUI} parts.ui
   * @param {object} parts.strings the page's texts.
   * @param {import("./peers.js").PeerManager} parts.peers
   * @param {import("./consent.js").RecordingConsent} parts.consent
   * @param {import("./network.js").NetworkMonitor} parts.monitor
   * @param {{sendState: () => void, applyLimits: () => void, refreshSelf: () => void}} parts.room
   *   the room's controller, told after a change.
   */
  constructor({ root, ui, strings, peers, consent, monitor, room }) {
    Object.assign(this, { root, ui, S: strings, peers, consent, monitor, room });
    this.meter = new media.LevelMeter();
    this.audio = null;
    this.video = null;
    this.screen = null;
    this.audioId = "";
    this.videoId = "";
    this.micOn = false;
    this.camOn = false;
    this.hand = false;
    this.lowbw = false;
    this.audioOnly = false;
    this.cameras = 0;
    this.mics = 0;
    this.levelTimer = null;
  }

  /** Our media state as the others see it. */
  state() {
    return {
      audio: Boolean(this.audio && this.micOn),
      video: Boolean(this.video && this.camOn && !this.audioOnly),
      hand: this.hand,
      screen: Boolean(this.screen),
    };
  }

  /** What the call's buttons show. */
  controls() {
    return {
      ...this.state(),
      lowbw: this.lowbw,
      audioOnly: this.audioOnly,
      hasMic: Boolean(this.audio) || this.mics > 0,
      hasCamera: Boolean(this.video) || this.cameras > 0,
      canShare: media.canShareScreen(),
    };
  }

  /** The picture on our own tile: the camera when it is on (the screen has a tile of its own). */
  shown() {
    return this.camOn ? this.video : null;
  }

  /** What we would send to the recorder now: the screen while we share, else the camera. */
  recorderTracks() {
    return { audio: this.peers.tracks.audio, video: this.audioOnly ? null : this.screen || this.peers.tracks.video };
  }

  /** Send this track (or nothing) to everyone, the recorder included when we consented. */
  async send(kind, track) {
    await this.peers.setTrack(kind, track);
    await this.consent.setTrack(kind, track, { audioOnly: this.audioOnly });
  }

  async setMic(on) {
    if (on && !this.audio) {
      // Joined without a microphone (as a viewer): open it now.
      try {
        this.audio = await media.openAudio(this.audioId);
      } catch (err) {
        this._failed(err);
        return;
      }
      await this.send("audio", this.audio);
    }
    if (!this.audio) return;
    this.micOn = on;
    this.audio.enabled = on;
    this.room.sendState();
  }

  /** Send the camera to everyone; to the recorder only while we do not share a screen. */
  async sendCamera(track) {
    if (this.screen) await this.peers.setTrack("video", track);
    else await this.send("video", track);
  }

  async setCamera(on) {
    if (!on) {
      this.camOn = false;
      await this.sendCamera(null);
      media.stopTrack(this.video);
      this.video = null;
    } else {
      try {
        this.video = await media.openVideo(this.videoId);
      } catch (err) {
        this._failed(err);
        return;
      }
      this.camOn = true;
      await this.sendCamera(this.video);
    }
    this.room.sendState();
  }

  async setScreen(on) {
    if (on) {
      let track;
      try {
        track = await media.openScreen();
      } catch {
        this.ui.toast(this.S.screenFailed);
        return;
      }
      this.screen = track;
      track.addEventListener("ended", () => { if (this.screen === track) this.setScreen(false); });
      // The screen goes beside the camera; the recorder gets the screen instead of the camera.
      await this.peers.setTrack("screen", track);
      await this.consent.setTrack("video", track, { audioOnly: this.audioOnly });
    } else {
      const track = this.screen;
      this.screen = null;
      await this.peers.setTrack("screen", null);
      await this.consent.setTrack("video", this.camOn ? this.video : null, { audioOnly: this.audioOnly });
      media.stopTrack(track);
    }
    this.room.applyLimits();
    this.room.sendState();
  }

  toggleHand() {
    this.hand = !this.hand;
    this.room.sendState();
  }

  setLowBandwidth(on) {
    this.lowbw = on;
    this.monitor.resetWeak();
    this.room.applyLimits();
    this.room.refreshSelf();
  }

  setAudioOnly(on) {
    this.audioOnly = on;
    this.root.classList.toggle("audio-only", on);
    this.monitor.resetWeak();
    this.peers.setAudioOnly(on);
    this.consent.replaceTrack("video", on ? null : this.screen || this.peers.tracks.video);
    this.room.sendState();
  }

  /** The link is weak: first less video, then none. */
  degrade(othersPresent) {
    if (!this.lowbw) {
      this.setLowBandwidth(true);
      this.monitor.ladder.steppedDown();
      this.ui.toast(this.S.autoLowBandwidth);
    } else if (!this.audioOnly && (this.video || othersPresent)) {
      this.setAudioOnly(true);
      this.monitor.ladder.steppedDown();
      this.ui.toast(this.S.autoAudioOnly);
    }
  }

  /** The link has been good for a while: undo the last step taken on our own, and say so. */
  recover() {
    const ladder = this.monitor.ladder;
    if (ladder.steps === 0) return;
    if (this.audioOnly) {
      this.setAudioOnly(false);
      this.ui.toast(this.S.autoVideoBack);
    } else if (this.lowbw) {
      this.setLowBandwidth(false);
      this.ui.toast(this.S.autoFullQuality);
    }
    ladder.steppedUp();
  }

  // ---- before joining ------------------------------------------------------------------------

  /** Open the camera and microphone for the preview, and list the devices. */
  preview() {
    this.openPreview().catch((err) => {
      this.ui.setMediaError(media.mediaErrorKind(err), false, false);
    });
  }

  async openPreview() {
    const got = await media.openLocal({ audioId: this.audioId, videoId: this.videoId });
    this.audio = got.audio;
    this.video = got.video;
    this.micOn = Boolean(got.audio);
    this.camOn = Boolean(got.video);
    if (got.audio) this.audioId = got.audio.getSettings().deviceId || "";
    if (got.video) this.videoId = got.video.getSettings().deviceId || "";
    this.ui.setPreview(got.video);
    this.ui.setMediaError(got.error, Boolean(got.audio), Boolean(got.video));
    this.meter.attach(got.audio);
    await this.fillDevices();
  }

  async fillDevices() {
    const devices = await media.listDevices();
    this.cameras = devices.video.length;
    this.mics = devices.audio.length;
    this.ui.setDevices("prejoin-camera", devices.video, this.videoId, this.S.camera);
    this.ui.setDevices("prejoin-mic", devices.audio, this.audioId, this.S.microphone);
  }

  /** Another camera or microphone was picked before joining. */
  async changeDevice(kind, deviceId) {
    try {
      const track = kind === "audio" ? await media.openAudio(deviceId) : await media.openVideo(deviceId);
      media.stopTrack(this[kind]);
      this[kind] = track;
      if (kind === "audio") {
        this.audioId = deviceId;
        this.micOn = true;
        this.meter.attach(track);
      } else {
        this.videoId = deviceId;
        this.camOn = true;
        this.ui.setPreview(track);
      }
      this.ui.setMediaError(null, Boolean(this.audio), Boolean(this.video));
    } catch (err) {
      this.ui.setMediaError(media.mediaErrorKind(err), Boolean(this.audio), Boolean(this.video));
    }
  }

  /** Show the microphone's level while the page waits for the click on Join. */
  showLevel() {
    // Browsers keep an AudioContext suspended until the first click or key press on the page.
    for (const type of ["pointerdown", "keydown"]) {
      document.addEventListener(type, () => this.meter.resume(), { once: true, capture: true });
    }
    this.levelTimer = setInterval(() => {
      if (this.root.dataset.state === "prejoin") this.ui.setLevel(this.meter.level());
    }, 100);
  }

  /** Keep what `mode` (av, audio, viewer) and the choices of the page ask for, and send it. */
  async enter(mode) {
    this.meter.resume();
    if (mode === "viewer") {
      media.stopTrack(this.audio);
      this.audio = null;
      this.micOn = false;
    }
    if (mode !== "av") {
      media.stopTrack(this.video);
      this.video = null;
      this.camOn = false;
    }
    this.ui.setPreview(null);
    this.lowbw = this.ui.lowBandwidthChecked();
    if (this.ui.audioOnlyChecked()) {
      this.audioOnly = true;
      this.root.classList.add("audio-only");
      this.peers.setAudioOnly(true);
    }
    await this.send("audio", this.audio);
    await this.send("video", this.video);
  }

  /** Release every device (leaving). */
  stop() {
    for (const t of [this.audio, this.video, this.screen]) media.stopTrack(t);
    this.meter.close();
    clearInterval(this.levelTimer);
  }

  _failed(err) {
    this.ui.toast(this.S.mediaErrors[media.mediaErrorKind(err)] || this.S.mediaErrors.error);
  }
}
