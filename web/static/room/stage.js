// The stage: one large tile and a strip of the others, or every tile in a grid. What is on the
// stage is, in order: the tile this page pinned, the chair's spotlight, a shared screen, the
// active speaker. DOM only: tiles are the figures RoomUI makes; keys are a peer id for a
// camera tile and "<peer id>:screen" for a shared screen.

const LAYOUT_KEY = "telemed.roomLayout";

const named = (text, name) => String(text).replace("{name}", name);

/** The key of a peer's camera ("camera") or shared screen ("screen") tile. */
export function tileKey(peerId, kind = "camera") {
  return kind === "screen" ? `${peerId}:screen` : peerId;
}

export class Stage {
  /**
   * @param {object} parts
   * @param {HTMLElement} parts.box the call's media area (carries data-layout).
   * @param {HTMLElement} parts.stage the large tile's place.
   * @param {HTMLElement} parts.strip the other tiles' place (the whole grid in grid layout).
   * @param {Map<string, HTMLElement>} parts.tiles every tile by key, in arrival order.
   * @param {object} parts.strings the page's texts.
   */
  constructor({ box, stage, strip, tiles, strings }) {
    Object.assign(this, { box, stage, strip, tiles, S: strings });
    this.layout = "stage";
    try {
      if (localStorage.getItem(LAYOUT_KEY) === "grid") this.layout = "grid";
    } catch { /* storage disabled: the default */ }
    this.pinned = null;
    this.spotlight = null; // {peer_id, kind} from the chair
    this.speaker = null;
    this.selfId = null;
    this.current = null;
    this.screens = []; // keys of shared screens, oldest first
  }

  /** What goes on the stage now (null in grid layout or when there is no tile). */
  choose() {
    if (this.layout !== "stage" || this.tiles.size === 0) return null;
    const has = (key) => key && this.tiles.has(key);
    if (has(this.pinned)) return this.pinned;
    const spot = this.spotlight;
    if (spot && spot.peer_id) {
      const screen = tileKey(spot.peer_id, "screen");
      if (spot.kind === "screen" && has(screen)) return screen;
      if (has(spot.peer_id)) return spot.peer_id;
    }
    // The newest screen, another's before our own.
    const screens = this.screens.filter(has);
    const others = screens.filter((k) => !k.startsWith(`${this.selfId}:`));
    if (others.length) return others[others.length - 1];
    if (screens.length) return screens[screens.length - 1];
    if (this.speaker !== this.selfId && has(this.speaker)) return this.speaker;
    if (has(this.current) && this.current !== this.selfId) return this.current;
    const remote = [...this.tiles.keys()].find((k) => k !== this.selfId && !k.endsWith(":screen"));
    return remote || [...this.tiles.keys()][0];
  }

  /** Put each tile where it belongs and label the buttons. */
  render() {
    const key = this.choose();
    this.current = key;
    this.box.dataset.layout = this.layout;
    let index = 0;
    for (const [k, tile] of this.tiles) {
      // Our own camera first in the strip, the others as they arrived.
      tile.style.order = k === this.selfId ? "-1" : String(index++);
      const onStage = k === key;
      const target = onStage ? this.stage : this.strip;
      if (tile.parentElement !== target) {
        target.appendChild(tile);
        // A video taken out of the document pauses.
        const video = tile.querySelector("video");
        if (video.srcObject) video.play().catch(() => {});
      }
      tile.classList.toggle("on-stage", onStage);
      this._label(k, tile);
    }
    this.box.dataset.count = String(this.tiles.size);
    this.box.dataset.stage = key ? "1" : "";
  }

  _label(key, tile) {
    const name = tile.dataset.name || "";
    const pinned = key === this.pinned;
    const spot = this.spotlight;
    const spotlit = Boolean(spot && spot.peer_id && tileKey(spot.peer_id, spot.kind) === key);
    tile.classList.toggle("is-pinned", pinned);
    tile.classList.toggle("is-spotlit", spotlit);
    const pin = tile.querySelector(".tile-pin");
    if (pin) {
      pin.setAttribute("aria-pressed", String(pinned));
      pin.textContent = pinned ? this.S.unpin : this.S.pin;
      pin.setAttribute("aria-label", named(pinned ? this.S.unpinLabel : this.S.pinLabel, name));
    }
    const spotButton = tile.querySelector(".tile-spot");
    if (spotButton) {
      spotButton.setAttribute("aria-pressed", String(spotlit));
      spotButton.textContent = spotlit ? this.S.unspotlight : this.S.spotlight;
      spotButton.setAttribute("aria-label", named(spotlit ? this.S.unspotlightLabel : this.S.spotlightLabel, name));
    }
  }

  /** Pin a tile to this page's stage, or unpin it when it is the pinned one. */
  pin(key) {
    this.pinned = this.pinned === key || !this.tiles.has(key) ? null : key;
    if (this.pinned && this.layout !== "stage") this.setLayout("stage");
    this.render();
  }

  /** The chair's spotlight ({peer_id, kind} or null); a new one replaces our own pin. */
  setSpotlight(spot) {
    this.spotlight = spot && spot.peer_id ? { peer_id: spot.peer_id, kind: spot.kind || "camera" } : null;
    if (this.spotlight) this.pinned = null;
    this.render();
  }

  /** Whether this tile is what the chair spotlights. */
  isSpotlit(peerId, kind) {
    const spot = this.spotlight;
    return Boolean(spot && spot.peer_id === peerId && (spot.kind || "camera") === kind);
  }

  setSpeaker(peerId) {
    this.speaker = peerId;
    // Only move the stage when the speaker decides it (not while a screen or a choice holds it).
    if (this.layout === "stage" && this.choose() !== this.current) this.render();
  }

  /** A shared screen appeared or went away. */
  setScreen(key, present) {
    this.screens = this.screens.filter((k) => k !== key);
    if (present) this.screens.push(key);
  }

  setLayout(layout) {
    this.layout = layout === "grid" ? "grid" : "stage";
    try {
      localStorage.setItem(LAYOUT_KEY, this.layout);
    } catch { /* not kept */ }
    this.render();
  }

  toggleLayout() {
    this.setLayout(this.layout === "stage" ? "grid" : "stage");
  }

  /** Show the stage alone on the whole screen (or leave full screen). */
  fullscreen() {
    if (document.fullscreenElement) return document.exitFullscreen().catch(() => {});
    const target = this.layout === "stage" && this.current ? this.stage : this.box;
    if (!target.requestFullscreen) return Promise.resolve();
    return target.requestFullscreen().catch(() => {});
  }
}

const SHORTCUTS = { p: "pin", s: "spotlight", f: "fullscreen", g: "toggle-layout" };

/**
 * The call's keyboard shortcuts: P pins the focused tile (else the stage's), S spotlights it
 * for everyone (chair), F shows the stage on the whole screen, G switches grid and stage.
 * Returns {action, peerId, kind} (and stops the key) or null.
 */
export function shortcut(ev, stage) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typeof ev.key !== "string") return null;
  const t = ev.target;
  if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return null;
  const action = SHORTCUTS[ev.key.toLowerCase()];
  if (!action) return null;
  const focused = t && t.closest ? t.closest(".tile") : null;
  const tile = focused || stage.stage.querySelector(".tile");
  if ((action === "pin" || action === "spotlight") && !tile) return null;
  ev.preventDefault();
  return {
    action,
    peerId: tile ? tile.dataset.peerId || tile.dataset.screenOf : null,
    kind: tile ? tile.dataset.kind : null,
  };
}
