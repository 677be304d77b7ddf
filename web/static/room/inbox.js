// The room's answers to the server's messages: presence, media negotiation, state, spotlight,
// chat, the lobby, moderation and errors, each handed to the part of the room it concerns.

import { RecordingConsent } from "./consent.js";
import { fmt } from "./ui.js";

// Errors after which the room does not try again: the closing screen explains them.
const FINAL_ERRORS = ["room-full", "room-ended", "kicked", "denied"];

/** What the room does with each message of the server (the controller's side of it). */
export function listenToSignaling(room) {
  const { signaling, ui, S } = room;
  const on = (type, handler) => signaling.addEventListener(type, ({ detail }) => handler(detail));
  on("welcome", (msg) => room.onWelcome(msg));
  on("sfu-published", (msg) => room.sfu.handle(msg));
  on("sfu-subscribe", (msg) => room.sfu.handle(msg));
  on("status", (detail) => {
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
      room.finish(detail.code);
    }
  });
  for (const type of ["offer", "answer", "candidate"]) {
    on(type, (detail) => {
      if (RecordingConsent.isFromRecorder(detail)) room.consent.handle(detail);
      else room.peers.handleSignal(detail);
    });
  }
  on("peer-joined", (detail) => {
    room.presence.push(["joined", detail.peer.peer_id]);
    room.addPeer(detail.peer);
    room.renderPeople();
    ui.toast(fmt(S.peerJoined, { name: detail.peer.name }));
  });
  on("peer-left", (detail) => {
    room.presence.push(["left", detail.peer_id, detail.reason]);
    const peer = room.roster.get(detail.peer_id);
    room.dropPeer(detail.peer_id);
    room.renderPeople();
    // When the session ends everybody leaves at once: the "ended" screen says it all.
    if (peer && detail.reason === "lobby") ui.toast(fmt(S.movedToLobby, { name: peer.name }));
    else if (peer && detail.reason !== "ended") ui.toast(fmt(S.peerLeft, { name: peer.name }));
  });
  on("peers", (detail) => {
    const others = (detail.peers || []).filter((p) => p.peer_id !== signaling.peerId);
    const listed = new Map(others.map((p) => [p.peer_id, p]));
    for (const id of [...room.roster.keys()]) if (!listed.has(id)) room.dropPeer(id);
    for (const p of listed.values()) {
      room.addPeer(p);
      // After a resync the smaller peer_id offers where no connection works.
      if (!room.peers.isAlive(p.peer_id) && signaling.peerId < p.peer_id) room.peers.connectTo(p.peer_id);
    }
    if (typeof detail.recording === "boolean") room.consent.setState(detail.recording);
    room.renderPeople();
  });
  on("state", (detail) => {
    const peer = room.roster.get(detail.peer_id);
    if (!peer) return;
    const wasHand = peer.hand;
    Object.assign(peer, { audio: detail.audio, video: detail.video, hand: detail.hand, screen: detail.screen });
    ui.upsertTile(peer);
    room.syncScreen(peer.peer_id);
    room.renderPeople();
    if (peer.hand && !wasHand) ui.toast(fmt(S.raisedHand, { name: peer.name }));
  });
  on("spotlight", (detail) => {
    ui.stage.setSpotlight(detail);
    const who = detail.peer_id === signaling.peerId ? room.self : room.roster.get(detail.peer_id);
    if (who) ui.toast(fmt(detail.kind === "screen" ? S.spotlightScreenOn : S.spotlightOn, { name: who.name }));
    else if (!detail.peer_id) ui.toast(S.spotlightOff);
  });
  on("chat", (detail) => room.chat.add(detail, detail.from === signaling.peerId));
  on("lobby-update", (detail) => {
    const before = Number(document.getElementById("lobby-count")?.textContent || 0);
    ui.renderLobby(detail.waiting || []);
    if ((detail.waiting || []).length > before) ui.toast(S.someoneWaiting);
  });
  on("mute", (detail) => {
    if (detail.kind === "video") room.local.setCamera(false);
    else room.local.setMic(false);
    ui.toast(detail.kind === "video" ? S.camStoppedByChair : S.mutedByChair);
  });
  // The application's reasons (a withdrawn invitation, a disabled account, a cancelled
  // session) have their own explanations.
  on("kicked", (detail) => { room.lastError = detail.reason || "kicked"; });
  on("ended", (detail) => { room.lastError = detail.reason || "ended"; });
  on("lobby", (detail) => room.onLobby(detail));
  on("error", (detail) => {
    if (detail.code === "room-full" && signaling.state === "joined") {
      // The answer to our `admit`: the waiting peer stays in the lobby.
      ui.toast(S.roomFullAdmit);
    } else if (FINAL_ERRORS.includes(detail.code)) {
      room.lastError = detail.code;
    } else if (room.consent.handles(detail.code)) {
      room.consent.onError(detail);
    } else if (detail.code !== "peer-not-found") {
      console.warn("signalling error", detail);
    }
  });
}
