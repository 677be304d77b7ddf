// Attachment upload: several files, a folder, drag and drop, one progress bar per file.
// Each file is its own request to the JSON API (XMLHttpRequest: fetch has no upload progress),
// one at a time so a slow uplink is not split between files. A ZIP goes whole to the study
// endpoint, which unpacks it. A DICOM file naming another patient than the case's stops the
// queue until the uploader confirms (then the rest of the batch goes with the confirmation)
// or gives up. The page reloads when all are done.

import { droppedFiles, worthSending } from "./dropfolder.js";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

/** The attachment kind for a file when the user left the choice to us. */
export function guessKind(file) {
  const name = file.name.toLowerCase();
  if (file.type === "application/dicom" || name.endsWith(".dcm")) return "dicom";
  // Scanners and CDs name DICOM files without an extension (IM000001, 1.2.840…).
  if (!name.includes(".") || /^[0-9.]+$/.test(name)) return "dicom";
  if (file.type.startsWith("image/")) return "photo";
  return "document";
}

function uploadOne(url, file, fields, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, body });
    });
    xhr.addEventListener("error", () => resolve({ ok: false, status: 0, body: null }));
    const form = new FormData();
    // The API reads the fields first, then the file.
    if (fields.kind) form.append("kind", fields.kind);
    form.append("description", fields.description);
    if (fields.confirm) form.append("confirm_identity", "1");
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

function errorText(result, texts) {
  const error = result.body && result.body.error;
  if (error) {
    const detail = error.fields ? Object.values(error.fields).join("; ") : "";
    return detail && detail !== error.message ? `${error.message}: ${detail}` : error.message;
  }
  return result.status === 0 ? texts.network : texts.failed;
}

function isZip(file) {
  return file.name.toLowerCase().endsWith(".zip") || file.type === "application/zip";
}

/** Show a patient mismatch and wait for the uploader's answer (true: send anyway). */
function askIdentity(view, result, texts) {
  const error = result.body.error;
  const box = document.createElement("div");
  box.className = "identity-warning notice";
  box.setAttribute("role", "alert");
  const lead = document.createElement("p");
  lead.textContent = error.message;
  const list = document.createElement("ul");
  for (const text of Object.values(error.fields || {})) {
    const item = document.createElement("li");
    item.textContent = text;
    list.append(item);
  }
  const yes = document.createElement("button");
  yes.type = "button";
  yes.className = "button button-danger identity-confirm";
  yes.textContent = texts.identity;
  const no = document.createElement("button");
  no.type = "button";
  no.className = "button button-secondary identity-cancel";
  no.textContent = texts.identityCancel;
  box.append(lead, list, yes, no);
  view.item.append(box);
  return new Promise((resolve) => {
    yes.addEventListener("click", () => {
      box.remove();
      resolve(true);
    });
    no.addEventListener("click", () => {
      box.remove();
      resolve(false);
    });
  });
}

function row(list, file, texts) {
  const item = document.createElement("li");
  item.className = "upload-item";
  const name = document.createElement("span");
  name.textContent = file.name;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  const status = document.createElement("span");
  status.className = "upload-status";
  status.textContent = texts.waiting;
  item.append(name, bar, status);
  list.append(item);
  return { item, bar, status };
}

/** Wire the upload box of a case page. */
export function setupUpload(root) {
  const url = root.dataset.url;
  const maxBytes = Number(root.dataset.maxBytes || 0);
  const texts = {
    waiting: root.dataset.textWaiting,
    uploading: root.dataset.textUploading,
    done: root.dataset.textDone,
    failed: root.dataset.textFailed,
    tooLarge: root.dataset.textTooLarge,
    network: root.dataset.textNetwork,
    reload: root.dataset.textReload,
    partial: root.dataset.textPartial,
    identity: root.dataset.textIdentity,
    identityCancel: root.dataset.textIdentityCancel,
    skipped: root.dataset.textSkipped,
  };
  const zipUrl = root.dataset.zipUrl;
  const folder = root.querySelector('input[name="folder"]');
  // Once the uploader confirmed a different patient, the rest of the batch goes confirmed.
  let confirmed = false;
  const input = root.querySelector('input[type="file"]');
  const zone = root.querySelector(".dropzone");
  const list = root.querySelector(".upload-list");
  const kindSelect = root.querySelector('select[name="kind"]');
  const description = root.querySelector('input[name="description"]');
  const queue = [];
  let running = false;
  let succeeded = 0;

  async function drain() {
    if (running) return;
    running = true;
    while (queue.length) {
      const job = queue.shift();
      const { bar, status, item } = job.view;
      if (maxBytes && job.file.size > maxBytes) {
        item.classList.add("is-error");
        status.textContent = texts.tooLarge;
        continue;
      }
      status.textContent = texts.uploading;
      const zip = isZip(job.file);
      const fields = zip
        ? { description: job.fields.description, confirm: confirmed }
        : { ...job.fields, confirm: confirmed };
      const result = await uploadOne(zip ? zipUrl : url, job.file, fields, (fraction) => {
        bar.value = fraction;
      });
      if (result.ok) {
        bar.value = 1;
        item.classList.add("is-done");
        status.textContent = texts.done;
        const skipped = (result.body && result.body.skipped) || [];
        if (skipped.length) {
          status.textContent += ` (${texts.skipped}: ${skipped.map((s) => s.name).join(", ")})`;
        }
        succeeded += 1;
      } else if (result.status === 409 && result.body?.error?.code === "identity-mismatch") {
        status.textContent = result.body.error.message;
        item.classList.add("is-warning");
        if (await askIdentity(job.view, result, texts)) {
          confirmed = true;
          item.classList.remove("is-warning");
          queue.unshift(job);
        } else {
          item.classList.replace("is-warning", "is-error");
          // The rest of the batch is very likely the same study: it is not sent either.
          for (const rest of queue.splice(0)) {
            rest.view.item.classList.add("is-error");
            rest.view.status.textContent = texts.identityCancel;
          }
        }
      } else {
        item.classList.add("is-error");
        status.textContent = errorText(result, texts);
      }
    }
    running = false;
    const failed = list.querySelector(".is-error");
    if (!succeeded) return;
    const note = document.createElement("li");
    note.className = "upload-status";
    if (failed) {
      // Keep the errors on screen; the files that did arrive show after a reload.
      const link = document.createElement("a");
      link.href = window.location.pathname + "#attachments";
      link.textContent = texts.partial;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        window.location.reload();
      });
      note.append(link);
      list.append(note);
      return;
    }
    note.textContent = texts.reload;
    list.append(note);
    window.location.reload();
  }

  function add(files) {
    for (const file of files) {
      const chosen = kindSelect ? kindSelect.value : "auto";
      queue.push({
        file,
        fields: {
          kind: chosen === "auto" ? guessKind(file) : chosen,
          description: description ? description.value : "",
        },
        view: row(list, file, texts),
      });
    }
    drain();
  }

  input.addEventListener("change", () => {
    add(Array.from(input.files || []));
    input.value = "";
  });
  folder?.addEventListener("change", () => {
    add(Array.from(folder.files || []).filter(worthSending));
    folder.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("is-over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("is-over"));
  }
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    add(await droppedFiles(event.dataTransfer));
  });
  // The form only exists for browsers without scripts; with them, nothing posts it.
  root.querySelector("form")?.addEventListener("submit", (event) => event.preventDefault());
}

const box = document.getElementById("upload");
if (box) setupUpload(box);
