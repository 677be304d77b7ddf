// The chat panel: messages with sender and time (Asia/Ho_Chi_Minh), the send form, unread count.

const TIME = new Intl.DateTimeFormat("vi-VN", {
  timeZone: "Asia/Ho_Chi_Minh",
  hour: "2-digit",
  minute: "2-digit",
});

export class ChatPanel {
  /**
   * @param {(text: string) => void} send posts a message.
   * @param {() => boolean} isVisible whether the chat panel is on screen (for the unread count).
   */
  constructor({ list, form, input, unread, send, isVisible, strings }) {
    this.list = list;
    this.input = input;
    this.unreadEl = unread;
    this.send = send;
    this.isVisible = isVisible;
    this.S = strings;
    this.unread = 0;
    this.seen = new Set();
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._submit();
    });
    input.addEventListener("keydown", (ev) => {
      // Enter sends, Shift+Enter starts a new line.
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this._submit();
      }
    });
  }

  _submit() {
    const text = this.input.value.trim();
    if (!text) return;
    this.send(text.slice(0, 2000));
    this.input.value = "";
  }

  /** Add a message: {chat_id?, from?, name, facility?, text, time (ISO)}; `mine` when we sent it. */
  add(msg, mine = false) {
    if (msg.chat_id) {
      if (this.seen.has(msg.chat_id)) return;
      this.seen.add(msg.chat_id);
    }
    const li = document.createElement("li");
    li.className = mine ? "chat-message chat-mine" : "chat-message";
    const head = document.createElement("div");
    head.className = "chat-head";
    const who = document.createElement("strong");
    who.className = "chat-sender";
    who.textContent = msg.name || "";
    if (msg.facility) who.title = msg.facility;
    const when = document.createElement("time");
    when.className = "chat-time";
    const date = new Date(msg.time || Date.now());
    when.dateTime = date.toISOString();
    when.textContent = TIME.format(date);
    head.append(who, when);
    const body = document.createElement("p");
    body.className = "chat-text";
    body.textContent = msg.text;
    li.append(head, body);
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.list.appendChild(li);
    if (atBottom || mine) this.list.scrollTop = this.list.scrollHeight;
    if (!mine && !this.isVisible()) {
      this.unread += 1;
      this._showUnread();
    }
  }

  /** The panel came into view: clear the unread count. */
  markRead() {
    this.unread = 0;
    this._showUnread();
    this.list.scrollTop = this.list.scrollHeight;
  }

  _showUnread() {
    this.unreadEl.textContent = String(this.unread);
    this.unreadEl.hidden = this.unread === 0;
  }
}
