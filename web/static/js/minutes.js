// The minutes' draft saves itself while the chair types: a quiet moment after the last change,
// the form goes to the autosave address (the page's CSRF token travels in the form and the
// header). The buttons still post the whole form as before.

const form = document.getElementById("minutes-form");
const status = document.getElementById("autosave-status");
const QUIET_MS = 2000;
let timer = null;
let sending = null;
let dirty = false;

function say(text) {
  if (status) status.textContent = text;
}

async function save() {
  if (!form || sending) { dirty = true; return; }
  dirty = false;
  const body = new FormData(form);
  body.delete("password");
  body.set("action", "save");
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  say(form.dataset.savingText || "…");
  sending = fetch(form.dataset.autosaveUrl, {
    method: "POST",
    body,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": csrf },
  });
  try {
    const resp = await sending;
    const answer = await resp.json().catch(() => ({}));
    if (resp.ok) {
      say(`${form.dataset.savedText || "✓"} ${new Date(answer.saved_at || Date.now()).toLocaleTimeString()}`);
    } else {
      say(answer.error?.message || resp.statusText);
    }
  } catch {
    say(form.dataset.offlineText || "⚠");
  } finally {
    sending = null;
    if (dirty) schedule();
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(save, QUIET_MS);
}

form?.addEventListener("input", (ev) => {
  if (ev.target?.name === "password") return;
  schedule();
});
form?.addEventListener("change", (ev) => {
  if (ev.target?.name === "password") return;
  schedule();
});
form?.addEventListener("submit", () => clearTimeout(timer));
