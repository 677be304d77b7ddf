// The recordings of a session played together: one clock for all (the earliest recording
// starts at 0), each participant's video placed on it by its offset; play, pause and seeking
// move them all. Each video only plays while the clock is within its own span.

const DRIFT = 0.3; // seconds a video may stray from the clock before it is put back

function fmtTime(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

class SyncPlayer {
  constructor(root) {
    this.root = root;
    this.tiles = [...root.querySelectorAll(".sync-tile")].map((el) => ({
      el,
      video: el.querySelector("video"),
      offset: Number(el.dataset.offset) || 0,
    }));
    this.play = root.querySelector("#sync-play");
    this.seek = root.querySelector("#sync-seek");
    this.out = root.querySelector("#sync-time");
    this.time = 0;
    this.playing = false;
    this.last = 0;
    this.play.addEventListener("click", () => (this.playing ? this.pause() : this.start()));
    this.seek.addEventListener("input", () => this.seekTo(Number(this.seek.value)));
    for (const t of this.tiles) {
      t.video.addEventListener("loadedmetadata", () => this.measure());
      // One control for all: a video's own controls would break the step.
      t.video.controls = false;
    }
    this.measure();
    this.render();
  }

  /** The session's length: the latest end of any recording. */
  measure() {
    let end = 0;
    for (const t of this.tiles) {
      const d = Number.isFinite(t.video.duration) ? t.video.duration : Number(t.el.dataset.duration) || 0;
      end = Math.max(end, t.offset + d);
    }
    this.length = end;
    this.seek.max = String(end);
  }

  start() {
    if (this.time >= this.length) this.time = 0;
    this.playing = true;
    this.last = performance.now();
    this.apply(true);
    this.tick();
    this.render();
  }

  pause() {
    this.playing = false;
    for (const t of this.tiles) t.video.pause();
    this.render();
  }

  seekTo(time) {
    this.time = Math.max(0, Math.min(this.length || 0, time));
    this.apply(true);
    this.render();
  }

  /** Put every video where the clock says (`force`: even when close enough). */
  apply(force) {
    for (const t of this.tiles) {
      const local = this.time - t.offset;
      const d = Number.isFinite(t.video.duration) ? t.video.duration : Infinity;
      const inside = local >= 0 && local < d;
      t.el.classList.toggle("is-idle", !inside);
      if (!inside) {
        if (!t.video.paused) t.video.pause();
        t.video.currentTime = Math.max(0, Math.min(local, Number.isFinite(d) ? d : 0));
        continue;
      }
      if (force || Math.abs(t.video.currentTime - local) > DRIFT) t.video.currentTime = local;
      if (this.playing && t.video.paused) t.video.play().catch(() => {});
      if (!this.playing && !t.video.paused) t.video.pause();
    }
  }

  tick() {
    if (!this.playing) return;
    const now = performance.now();
    this.time += (now - this.last) / 1000;
    this.last = now;
    if (this.time >= this.length) {
      this.time = this.length;
      this.pause();
    } else {
      this.apply(false);
      this.render();
      requestAnimationFrame(() => this.tick());
    }
  }

  render() {
    this.seek.value = String(this.time);
    this.out.textContent = fmtTime(this.time);
    this.play.textContent = this.playing ? this.root.dataset.labelPause : this.root.dataset.labelPlay;
    this.play.setAttribute("aria-pressed", String(this.playing));
  }
}

const root = document.getElementById("sync-player");
if (root) {
  const player = new SyncPlayer(root);
  if (window.telemedTestHook === true) window.telemedPlayer = player;
}
