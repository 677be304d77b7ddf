// Images viewed together in the call: a study from the case file opens in a viewer over the
// stage; the case's presenter or the chair shares the view (series, slice, window, zoom/pan,
// measurements) through the signalling server as `imaging-view` messages, a few a second at
// most, and the others follow it live until they step out ("Tự xem") and back in
// ("Theo dõi lại").

import { Viewer } from "../imaging/viewer.js";

// At most this often a shared view goes out while the presenter drags or scrolls.
const SEND_EVERY_MS = 100;

function fmt(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => values[key] ?? "");
}

/** Wire the case file's study buttons, the viewer panel and the `imaging-view` messages. */
export function setupRoomImaging(root, signaling) {
  const panel = document.querySelector(".room-imaging");
  const template = document.getElementById("imaging-viewer-template");
  if (!panel || !template) return null;
  const texts = panel.dataset;
  const banner = panel.querySelector(".viewer-follow");
  const shareButton = panel.querySelector("[data-imaging=share]");
  const followButton = panel.querySelector("[data-imaging=follow]");
  const state = {
    viewer: null,
    studyId: null,
    sharing: false,
    following: null, // {from, name} of the presenter followed
    steppedOut: false,
    latest: null, // the last view received
    timer: null,
    pending: null,
  };

  async function open(studyId, url) {
    if (state.studyId === studyId && state.viewer) return state.viewer;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return null;
    const study = await response.json();
    const host = panel.querySelector(".room-imaging-body");
    host.replaceChildren(template.content.cloneNode(true));
    const viewerRoot = host.querySelector("[data-imaging-viewer]");
    state.viewer = new Viewer(viewerRoot, study, { ...viewerRoot.dataset });
    state.studyId = studyId;
    state.viewer.onChange = (view) => share(view);
    panel.hidden = false;
    if (window.telemedTestHook) window.telemedViewer = state.viewer;
    return state.viewer;
  }

  function send(view) {
    signaling.send({ type: "imaging-view", study: state.studyId, view });
  }

  function share(view) {
    if (!state.sharing) return;
    state.pending = view;
    if (state.timer) return;
    send(view);
    state.pending = null;
    state.timer = setTimeout(() => {
      state.timer = null;
      if (state.pending) share(state.pending);
    }, SEND_EVERY_MS);
  }

  function showBanner() {
    if (!state.following) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    banner.querySelector("span").textContent = state.steppedOut
      ? fmt(texts.shared, { name: state.following.name })
      : fmt(texts.following, { name: state.following.name });
    followButton.textContent = state.steppedOut ? texts.followAgain : texts.stepOut;
  }

  async function follow(frame) {
    state.latest = frame;
    if (frame.view === null) {
      if (state.following && state.following.from === frame.from) state.following = null;
      showBanner();
      return;
    }
    state.following = { from: frame.from, name: frame.name };
    state.sharing = false;
    shareButton.setAttribute("aria-pressed", "false");
    if (!state.steppedOut) {
      const entry = root.querySelector(`[data-study-id="${frame.study}"]`);
      const viewer = entry ? await open(frame.study, entry.dataset.studyUrl) : state.viewer;
      if (viewer && state.studyId === frame.study) viewer.setView(frame.view);
    }
    showBanner();
  }

  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-study-id]");
    if (!button) return;
    event.preventDefault();
    open(button.dataset.studyId, button.dataset.studyUrl);
  });
  shareButton.addEventListener("click", () => {
    state.sharing = !state.sharing;
    shareButton.setAttribute("aria-pressed", String(state.sharing));
    if (state.sharing && state.viewer) {
      state.following = null;
      showBanner();
      send(state.viewer.getView());
    } else if (!state.sharing) {
      send(null);
    }
  });
  followButton.addEventListener("click", () => {
    state.steppedOut = !state.steppedOut;
    if (!state.steppedOut && state.latest) follow(state.latest);
    showBanner();
  });
  panel.querySelector("[data-imaging=close]").addEventListener("click", () => {
    if (state.sharing) send(null);
    state.sharing = false;
    shareButton.setAttribute("aria-pressed", "false");
    panel.hidden = true;
  });
  // Only the case's presenter and the chair may lead; the others follow (the server refuses too).
  shareButton.hidden = true;
  signaling.addEventListener("welcome", ({ detail }) => {
    const me = detail.self || {};
    shareButton.hidden = !(me.role === "moderator" || me.presenter === true);
  });
  signaling.addEventListener("imaging-view", ({ detail }) => follow(detail));
  signaling.addEventListener("peer-left", ({ detail }) => {
    if (state.following && state.following.from === detail.peer_id) {
      state.following = null;
      showBanner();
    }
  });
  return state;
}
