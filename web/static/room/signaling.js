// WebSocket client of the signalling server: join, resume after a drop, reconnect with backoff.
// No DOM code here. Events (EventTarget): "status" ({state, code}), "welcome", "message" (every
// server frame), and one event per frame type ("offer", "chat", "peer-joined", ...).

// Close codes after which reconnecting cannot help (docs/signaling.md, "Close codes").
const FINAL_CODES = new Set([4401, 4403, 4404, 4409, 4410, 4413, 4429]);
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const MAX_QUEUED = 200;

export class SignalingClient extends EventTarget {
  /**
   * @param {() => Promise<{ws_url: string, token: string}>} getJoinInfo fetches a fresh
   *   single-use join token (one per connection attempt).
   */
  constructor(getJoinInfo) {
    super();
    this.getJoinInfo = getJoinInfo;
    this.ws = null;
    this.state = "idle"; // idle | connecting | lobby | joined | reconnecting | closed
    this.peerId = null;
    this.resumeToken = null;
    this.attempt = 0;
    this.leaving = false;
    this.queue = []; // frames sent while reconnecting, flushed after a resumed welcome
    this.timer = null;
    this.closeCode = null;
    this.pingTimer = null;
  }

  /** Open the connection and send `join`. */
  async connect() {
    this.leaving = false;
    this._setState(this.peerId ? "reconnecting" : "connecting");
    await this._open();
  }

  async _open() {
    clearTimeout(this.timer);
    let info;
    try {
      info = await this.getJoinInfo();
    } catch (err) {
      if (err && err.final) {
        this.closeCode = err.status || null;
        this._setState("closed", { code: this.closeCode, reason: err.message });
        return;
      }
      this._scheduleReconnect();
      return;
    }
    if (this.leaving) return;
    const url = new URL(info.ws_url, window.location.href);
    url.searchParams.set("token", info.token);
    const ws = new WebSocket(url.toString());
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      ws.send(JSON.stringify({ type: "join", resume_token: this.resumeToken }));
    });
    ws.addEventListener("message", (ev) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg && typeof msg.type === "string") this._receive(msg);
    });
    ws.addEventListener("close", (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this._closed(ev.code);
    });
  }

  _receive(msg) {
    if (msg.type === "welcome") {
      const resumed = Boolean(msg.resumed) && msg.peer_id === this.peerId;
      this.peerId = msg.peer_id;
      this.resumeToken = msg.resume_token;
      this.attempt = 0;
      const queued = this.queue;
      this.queue = [];
      this._setState("joined");
      this._startPings();
      // Frames for peers of a lost session would reach nobody (or the wrong peer).
      if (resumed) queued.forEach((frame) => this._write(frame));
      msg.resumed = resumed;
    } else if (msg.type === "lobby") {
      this.attempt = 0;
      this._setState("lobby");
    }
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
    this.dispatchEvent(new CustomEvent("message", { detail: msg }));
  }

  _closed(code) {
    this._stopPings();
    this.closeCode = code;
    if (this.leaving || FINAL_CODES.has(code)) {
      this._setState("closed", { code });
      return;
    }
    // A waiting peer has no grace period: it goes back to the lobby as a new peer.
    if (this.state === "lobby") this.resumeToken = null;
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this.leaving) return;
    this._setState(this.peerId ? "reconnecting" : "connecting");
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    const delay = base / 2 + Math.random() * base;
    this.timer = setTimeout(() => this._open(), delay);
  }

  _setState(state, extra = {}) {
    if (this.state === state && !extra.code) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, ...extra } }));
  }

  _write(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  /** Send a frame; while reconnecting it is kept and sent after the session resumes. */
  send(frame) {
    if (this.state === "joined" && this._write(frame)) return;
    if (this.state === "closed") return;
    if (this.queue.length < MAX_QUEUED) this.queue.push(frame);
  }

  _startPings() {
    this._stopPings();
    // Keeps proxies from closing an idle socket; the server's own heartbeat detects dead links.
    this.pingTimer = setInterval(() => this._write({ type: "ping" }), 25000);
  }

  _stopPings() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  /** Leave the room for good. */
  leave() {
    this.leaving = true;
    clearTimeout(this.timer);
    this._stopPings();
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "leave" }));
      this.ws.close(1000);
    } else if (this.ws) {
      this.ws.close();
    }
    this.ws = null;
    this._setState("closed", { code: 1000 });
  }

  /** Close the socket as a network drop would (the client then resumes). For tests. */
  dropSocket() {
    if (this.ws) this.ws.close(4000, "dropped");
  }
}

/**
 * A function fetching a fresh single-use join token from the API (`POST joinUrl`); its errors
 * say whether retrying can help (`final`).
 */
export function joinInfo(joinUrl, csrf) {
  return async () => {
    const resp = await fetch(joinUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
    });
    if (!resp.ok) {
      let message = "";
      try {
        const body = await resp.json();
        message = (body.error && body.error.message) || "";
      } catch { /* not JSON */ }
      const err = new Error(message);
      err.status = resp.status;
      // 4xx will not get better by retrying (except throttling); 5xx and network errors may.
      err.final = resp.status >= 400 && resp.status < 500 && resp.status !== 408 && resp.status !== 429;
      throw err;
    }
    return resp.json();
  };
}
