// Countdowns to upcoming sessions and Join buttons that become active shortly before the start.
//
// <span data-countdown="2026-11-29T08:00:00+00:00" data-text-started="…" data-text-day="…"
//       data-text-days="…" data-text-hours="…" data-text-minutes="…" data-text-seconds="…">
// <a data-join-from="2026-11-29T07:50:00+00:00" aria-disabled="true">…</a>
// The server renders the right state; this only keeps it current while the page stays open.

const SOON_MS = 10 * 60 * 1000;

/**
 * "2 ngày 3 giờ", "14 giờ 55 phút", "9 phút 05 giây" for a positive number of milliseconds:
 * words, not a clock face, so the time left is never read as a time of day. ``words.day`` is
 * the word after one day ("1 day"), ``words.days`` after any other number ("2 days").
 */
export function formatRemaining(ms, words) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days > 0) return `${days} ${days === 1 ? words.day : words.days} ${hours} ${words.hours}`;
  if (hours > 0) return `${hours} ${words.hours} ${minutes} ${words.minutes}`;
  return `${minutes} ${words.minutes} ${String(seconds).padStart(2, "0")} ${words.seconds}`;
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
      el.textContent = formatRemaining(left, {
        day: el.dataset.textDay || "d",
        days: el.dataset.textDays || "d",
        hours: el.dataset.textHours || "h",
        minutes: el.dataset.textMinutes || "min",
        seconds: el.dataset.textSeconds || "s",
      });
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
