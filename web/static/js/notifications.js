// The bell: the unread count and a toast for each new notification, pushed by the server
// (Server-Sent Events on the bell's data-stream; the browser reconnects by itself). No polling.

const bell = document.getElementById("bell");
const count = document.getElementById("bell-count");
const toasts = document.getElementById("live-toasts");

function setCount(n) {
  if (!count) return;
  count.textContent = String(n);
  count.hidden = !n;
  document.body.dataset.unread = String(n);
}

function toast(item) {
  if (!toasts) return;
  const box = document.createElement("div");
  box.className = item.emergency ? "live-toast is-emergency" : "live-toast";
  box.dataset.notificationId = item.id;
  const text = document.createElement("span");
  text.className = "live-toast-text";
  text.textContent = item.text;
  // Opening marks it read (a POST with the page's CSRF token).
  const form = document.createElement("form");
  form.method = "post";
  form.action = item.url;
  form.className = "inline-form";
  const csrf = document.createElement("input");
  csrf.type = "hidden";
  csrf.name = "csrf_token";
  csrf.value = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const open = document.createElement("button");
  open.type = "submit";
  open.className = "button button-small";
  open.textContent = toasts.dataset.openText || "Xem";
  form.append(csrf, open);
  const close = document.createElement("button");
  close.type = "button";
  close.className = "button-link live-toast-close";
  close.textContent = "×";
  close.addEventListener("click", () => box.remove());
  box.append(text, form, close);
  toasts.prepend(box);
}

if (bell && window.EventSource) {
  const source = new EventSource(bell.dataset.stream);
  source.addEventListener("count", (ev) => setCount(JSON.parse(ev.data).unread));
  source.addEventListener("notification", (ev) => {
    const item = JSON.parse(ev.data);
    setCount(item.unread);
    toast(item);
  });
  // The session ended (logout, expiry, account disabled): stop listening instead of retrying.
  source.addEventListener("ended", () => source.close());
}
