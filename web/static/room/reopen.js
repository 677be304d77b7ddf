// After the chair ended the session: the chair or the host coordinator may reopen it while its
// scheduled time lasts (an end by mistake), and every page that saw the end watches for the
// reopening and goes back into the room. DOM and fetch only.

const WATCH_EVERY_MS = 4000;
export const REJOIN_HASH = "#rejoin";

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
