// Recording with consent, as one participant lives it (docs/signaling.md "Recording"): the
// indicator, our own answer, everyone's answers, and our connection to the recorder, which is
// opened only after we accepted. The prompt and the lists are drawn by RoomUI.

import { RECORDER_ID, RecorderLink } from "./recording.js";
import { fmt } from "./ui.js";

const ERROR_CODES = ["recorder-failed", "bad-offer", "not-recording", "consent-required"];

export class RecordingConsent {
  /**
   * @param {object} parts what the room is made of:
   * @param {import("./signaling.js").SignalingClient} parts.signaling
   * @param {import("./ui.js").RoomUI} parts.ui
   * @param {object} parts.strings the page's texts.
   * @param {() => {audio: MediaStreamTrack|null, video: MediaStreamTrack|null}} parts.tracks what
   *   we would send to the recorder now.
   * @param {() => boolean} parts.isModerator whether we chair the room.
   * @param {() => void} parts.render redraws the list of people (it shows the answers).
   */
  constructor({ signaling, ui, strings, tracks, isModerator, render }) {
    this.signaling = signaling;
    this.ui = ui;
    this.S = strings;
    this.tracks = tracks;
    this.isModerator = isModerator;
    this.render = render;
    this.on = false;
    this.mine = null; // our own answer; null: none yet
    this.consents = new Map(); // everyone else's answers by peer id
    this.link = new RecorderLink((frame) => signaling.send(frame), []);
    this.link.addEventListener("lost", () => ui.setRecordingAlert(this.S.recorderGaveUp));
    signaling.addEventListener("recording", ({ detail }) => this._onRecording(detail));
    signaling.addEventListener("recording-consent-request", ({ detail }) => {
      if (!this.on) this.setState(true);
      if (this.mine === null) ui.showConsentPrompt(Boolean(detail.by));
    });
    signaling.addEventListener("recording-consent", ({ detail }) => this._onConsent(detail));
  }

  /** Frames from the peer `recorder` go to our connection to it. */
  static isFromRecorder(frame) {
    return frame.from === RECORDER_ID;
  }

  /** The ICE servers from `welcome`. */
  configure(iceServers) {
    this.link.iceServers = iceServers || [];
  }

  /** A new session: answers given in an earlier one do not carry over. */
  reset() {
    this.link.close();
    this.on = false;
    this.mine = null;
    this.consents.clear();
  }

  /** Whether the room is recorded, from `welcome`, `peers` or `recording`. */
  setState(on) {
    if (on !== this.on) {
      // A new recording asks everyone again; answers to an earlier one do not carry over.
      this.consents.clear();
      this.mine = null;
    }
    this.on = on;
    if (!on) this.link.close();
    this.ui.setRecording(on, this.mine);
    this.render();
  }

  /** The chair's Record button. */
  toggle() {
    this.ui.setRecordBusy();
    this.signaling.send({ type: "record", on: !this.on });
  }

  /** Our answer to the prompt. */
  answer(accept) {
    this.ui.hideConsentPrompt();
    if (!this.on) return;
    this.mine = accept;
    this.signaling.send({ type: "recording-consent", accept });
    // The server has our answer before the offer: both go over the same socket, in order.
    if (!accept) this.link.close();
    else if (!this.link.active) this.openLink();
    this.ui.setRecording(true, accept);
    this.render();
  }

  /** Everyone's answers, ours included, for the list of people. */
  answers(selfId) {
    const consents = new Map(this.consents);
    if (selfId && this.mine !== null) consents.set(selfId, this.mine);
    return consents;
  }

  /** Connect to the recorder with what we send to the others. */
  openLink() {
    const tracks = this.tracks();
    if (!tracks.audio && !tracks.video) return; // joined as a viewer: nothing to record yet
    this.link.open(tracks).catch((err) => console.warn("recorder offer", err));
  }

  /** A frame from the recorder (its answer). */
  handle(frame) {
    this.link.handle(frame).catch((err) => console.warn("recorder answer", err));
  }

  /** We send another track (or none) to the others: the recorder gets it too (no video in
   * audio-only), and a connection to it opens if we accepted and had sent nothing yet. */
  async setTrack(kind, track, { audioOnly = false } = {}) {
    await this.link.setTrack(kind, kind === "video" && audioOnly ? null : track);
    if (track && this.on && this.mine && !this.link.active) this.openLink();
  }

  /** Change what the recorder gets, without opening a connection. */
  replaceTrack(kind, track) {
    this.link.setTrack(kind, track);
  }

  /** The same cap on our video as on the mesh. */
  setLimits(limits) {
    this.link.setLimits(limits);
  }

  /** Whether an `error` code is about recording. */
  handles(code) {
    return ERROR_CODES.includes(code);
  }

  /** An `error` about recording. */
  onError(detail) {
    const link = this.link;
    if (detail.code === "recorder-failed") {
      if (this.isModerator()) {
        this.ui.setRecordingAlert(fmt(this.S.recorderFailed, { detail: detail.message || "" }));
      }
      // Moderators also hear about other people's connections: offer again only if ours is down.
      if (link.active && link.pc && link.pc.connectionState !== "connected" && this.mine) {
        this.ui.toast(this.S.recorderLost);
        this.openLink();
      }
    } else if (detail.code === "bad-offer") {
      link.close();
      this.ui.toast(this.S.recorderBadOffer);
    } else {
      link.close(); // not-recording, consent-required: the server refused our media
    }
    this.ui.setRecording(this.on, this.mine); // re-enables the chair's Record button
  }

  /** We leave: stop sending. */
  close() {
    this.link.close();
  }

  _onRecording(detail) {
    const was = this.on;
    this.setState(Boolean(detail.on));
    if (detail.on && !was) this.ui.toast(this.S.recordingStarted);
    if (!detail.on && was) {
      if (detail.reason === "failed") this.ui.setRecordingAlert(this.S.recordingFailed);
      else this.ui.toast(this.S.recordingStopped);
    }
  }

  _onConsent(detail) {
    if (!this.on) return;
    this.consents.set(detail.peer_id, Boolean(detail.accept));
    if (detail.peer_id === this.signaling.peerId) {
      this.mine = Boolean(detail.accept);
      this.ui.setRecording(true, this.mine);
    } else if (this.isModerator()) {
      const text = detail.accept ? this.S.consentByYes : this.S.consentByNo;
      this.ui.toast(fmt(text, { name: detail.name }));
    }
    this.render();
  }
}
