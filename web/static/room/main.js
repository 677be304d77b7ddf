// The consultation room page: builds the room controller from the page's configuration, shows
// the advice of the last network test, and opens the preview.

import { RoomController } from "./controller.js";
import { REJOIN_HASH } from "./reopen.js";
import { testHook } from "./testhook.js";
import { fmt } from "./ui.js";

const root = document.getElementById("room");
const config = JSON.parse(document.getElementById("room-config").textContent);
const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const room = new RoomController(root, config, csrfMeta ? csrfMeta.content : "");

// The end-to-end tests ask for their hook explicitly, before the page's scripts run.
if (window.telemedTestHook === true) window.telemedRoom = testHook(room);

/** The network test page leaves its last verdict in this browser's storage. */
function applyNetworkTest(ui, texts) {
  let verdict = null;
  let at = null;
  let low = false;
  try {
    low = localStorage.getItem("telemed.lowBandwidth") === "1";
    const saved = JSON.parse(localStorage.getItem("telemed.networkVerdict") || "null");
    if (saved && typeof saved.verdict === "string") ({ verdict, at } = saved);
  } catch { /* storage disabled or garbled: no advice */ }
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

applyNetworkTest(room.ui, config.strings.network);
room.start();
// Back after the session was reopened: join as soon as the camera and microphone are ready.
if (window.location.hash === REJOIN_HASH) {
  history.replaceState(null, "", window.location.pathname + window.location.search);
  room.rejoinWhenReady();
}
