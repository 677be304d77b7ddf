// The thread form: a message with a file goes to the API as multipart (the page's CSRF token
// in the header); a message without one is posted as a plain form.

const form = document.getElementById("thread-form");
const file = document.getElementById("f-file");
const error = document.getElementById("thread-error");

form?.addEventListener("submit", async (ev) => {
  if (!file || !file.files.length) return; // the plain form post
  ev.preventDefault();
  const body = new FormData();
  body.append("text", form.elements.text.value);
  const kind = form.querySelector('input[name="kind"]');
  body.append("kind", kind && kind.checked ? "opinion" : "message");
  body.append("file", file.files[0]);
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const resp = await fetch(form.dataset.uploadUrl, {
    method: "POST",
    body,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": csrf },
  });
  if (resp.ok) {
    const entry = await resp.json();
    window.location.hash = entry.anchor;
    window.location.reload();
    return;
  }
  let message = resp.statusText;
  try { message = (await resp.json()).error.message || message; } catch { /* not JSON */ }
  error.textContent = message;
  error.hidden = false;
});
