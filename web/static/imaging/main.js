// Boot the study viewer on a page that has one ([data-imaging-viewer]).

import { Viewer } from "./viewer.js";

async function studyOf(root) {
  const inPage = document.getElementById("study-data");
  if (inPage) return JSON.parse(inPage.textContent);
  const response = await fetch(root.dataset.studyUrl, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  return response.ok ? response.json() : null;
}

/** Start a viewer in ``root`` on the study the page carries (or fetches). */
export async function startViewer(root) {
  const texts = { ...root.dataset };
  const study = await studyOf(root);
  if (!study) {
    root.querySelector(".viewer-info").textContent = texts.failed;
    return null;
  }
  const viewer = new Viewer(root, study, texts);
  if (window.telemedTestHook) window.telemedViewer = viewer;
  root.dispatchEvent(new CustomEvent("viewer-ready", { detail: viewer, bubbles: true }));
  return viewer;
}

const root = document.querySelector("[data-imaging-viewer]");
if (root) startViewer(root);
