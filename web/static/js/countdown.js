// Countdowns to upcoming sessions and Join buttons that become active shortly before the start.
//
// <span data-countdown="2026-11-29T08:00:00+00:00" data-text-started="…" data-text-days="…">
// <a data-join-from="2026-11-29T07:50:00+00:00" aria-disabled="true">…</a>
// The server renders the right state; this only keeps it current while the page stays open.

const SOON_MS = 10 * 60 * 1000;

function pad(n) {
  return String(n).padStart(2, "0");
}

/** "2 ngày 03:04:05", "03:04:05" or "04:05" for a positive number of milliseconds. */
export function formatRemaining(ms, daysWord) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const clock = hours > 0 || days > 0
    ? `${pad(hours)}:${pad(minutes)}:${pad(seconds)}`
    : `${pad(minutes)}:${pad(seconds)}`;
  return days > 0 ? `${days} ${daysWord} ${clock}` : clock;
}

function update(root, now) {
  for (const el of root.querySelectorAll("[data-countdown]")) {
    const start = Date.parse(el.dataset.countdown);
    if (Number.isNaN(start)) continue;
    const left = start - now;
    if (left <= 0) {
      el.textContent = el.dataset.textStarted || "";
      el.classList.add("is-soon");
    } else {
      el.textContent = formatRemaining(left, el.dataset.textDays || "d");
      el.classList.toggle("is-soon", left <= SOON_MS);
    }
  }
  for (const button of root.querySelectorAll("[data-join-from]")) {
    const from = Date.parse(button.dataset.joinFrom);
    if (Number.isNaN(from)) continue;
    if (now >= from) {
      button.removeAttribute("aria-disabled");
      button.removeAttribute("tabindex");
      const hint = button.parentElement && button.parentElement.querySelector(".join-hint");
      if (hint) hint.hidden = true;
    }
  }
}

/** Refresh every countdown on the page once a second. */
export function startCountdowns(root) {
  if (!root.querySelector("[data-countdown], [data-join-from]")) return;
  update(root, Date.now());
  window.setInterval(() => update(root, Date.now()), 1000);
}
