// The end of a session: which explanation the ended screen gives; after the chair ended it,
// the chair or the host coordinator may reopen it while its scheduled time lasts (an end by
// mistake), and every page that saw the end watches for the reopening and goes back into the
// room. DOM and fetch only.

const WATCH_EVERY_MS = 4000;
export const REJOIN_HASH = "#rejoin";

/** Which of the ended screen's explanations (`E`) fits the last error and the close code. */
export function endedReason(E, last, code) {
  if (last === "cancelled") return E.cancelled;
  if (last === "uninvited") return E.uninvited;
  if (last === "disabled") return E.disabled;
  if (last === "kicked") return E.kicked;
  if (last === "denied") return E.denied;
  if (last === "room-full" || code === 4413) return E.full;
  if (last === "ended" || last === "room-ended" || code === 4410) return E.ended;
  if (code === 4409) return E.replaced;
  if (code === 4401 || code === 401) return E.signedOut;
  if (code === 4403 || code === 4404 || code === 404) return E.forbidden;
  if (code === 1000) return E.left;
  if (code === 409) return E.notOpen;
  return E.error;
}

/** Join once the preview has opened (coming back into a reopened session). */
export function rejoinWhenReady(room) {
  const button = document.getElementById("join-button");
  let tries = 0;
  const timer = setInterval(() => {
    // Without any working device the page waits for the person, as on a first visit.
    if (room.joining || room.root.dataset.state !== "prejoin" || ++tries > 60) clearInterval(timer);
    else if (!button.disabled) {
      clearInterval(timer);
      room.act("join");
    }
  }, 300);
}

export class Reopening {
  /**
   * @param {object} parts
   * @param {object} parts.config the page's room configuration (statusUrl, reopenUrl, scheduledEnd).
   * @param {string} parts.csrf the page's CSRF token.
   * @param {object} parts.strings the page's texts.
   */
  constructor({ config, csrf, strings }) {
    Object.assign(this, { config, csrf, S: strings });
    this.timer = null;
    this.box = document.getElementById("room-reopen");
    this.button = document.getElementById("room-reopen-button");
    this.note = document.getElementById("room-reopen-note");
  }

  /** Whether the scheduled time still lasts. */
  inWindow() {
    const end = Date.parse(this.config.scheduledEnd || "");
    return Number.isFinite(end) && Date.now() < end;
  }

  /** The session ended: offer to reopen it (to those who may) and watch for a reopening. */
  ended() {
    if (!this.inWindow()) return;
    if (this.config.reopenUrl) {
      const end = new Date(this.config.scheduledEnd);
      const until = end.toLocaleTimeString(document.documentElement.lang || "vi", { hour: "2-digit", minute: "2-digit" });
      this.note.textContent = this.S.reopenOffer.replace("{until}", until);
      this.box.hidden = false;
    }
    this.timer = setInterval(() => this.check(), WATCH_EVERY_MS);
  }

  async reopen() {
    this.button.disabled = true;
    try {
      const resp = await fetch(this.config.reopenUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": this.csrf },
      });
      if (resp.ok) return this.back();
      let message = "";
      try {
        const body = await resp.json();
        message = (body.error && body.error.message) || "";
      } catch { /* not JSON */ }
      this.note.textContent = message || this.S.reopenFailed;
    } catch {
      this.note.textContent = this.S.reopenFailed;
    }
    this.button.disabled = false;
    return undefined;
  }

  /** Ask whether the session is under way again. */
  async check() {
    if (!this.inWindow()) {
      clearInterval(this.timer);
      return;
    }
    try {
      const resp = await fetch(this.config.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (resp.ok && (await resp.json()).status === "live") this.back();
    } catch { /* try again later */ }
  }

  /** Into the room again: the page reloads and joins as before. */
  back() {
    clearInterval(this.timer);
    window.location.hash = REJOIN_HASH;
    window.location.reload();
  }
}
