// Boot the study viewer on a page that has one ([data-imaging-viewer]).

import { Viewer } from "./viewer.js";

/** Fetch the study and start a viewer in ``root``. */
export async function startViewer(root) {
  const texts = { ...root.dataset };
  const response = await fetch(root.dataset.studyUrl, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) {
    root.querySelector(".viewer-info").textContent = texts.failed;
    return null;
  }
  const viewer = new Viewer(root, await response.json(), texts);
  if (window.telemedTestHook) window.telemedViewer = viewer;
  root.dispatchEvent(new CustomEvent("viewer-ready", { detail: viewer, bubbles: true }));
  return viewer;
}

const root = document.querySelector("[data-imaging-viewer]");
if (root) startViewer(root);
