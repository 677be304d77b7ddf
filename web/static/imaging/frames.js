// Slices' stored values from the server: fetched once each, the one on screen first.
//
// A frame arrives as a 24-byte head and little-endian samples (see docs/imaging.md), gzip
// content-encoded so the browser inflates it. Each URL is fetched at most once in the page's
// life (a map of promises); the HTTP cache (immutable, ETag) spares the network across pages.

const MAGIC = 0x58504d54; // "TMPX" read as a little-endian u32
export const INT16 = 1;
export const UINT16 = 2;
export const RGB8 = 3;

/** The frame of a packed body: size, type, rescale and the samples. */
export function parseFrame(buffer) {
  const head = new DataView(buffer, 0, 24);
  if (head.getUint32(0, true) !== MAGIC) throw new Error("not a packed frame");
  const type = head.getUint16(6, true);
  const width = head.getUint32(8, true);
  const height = head.getUint32(12, true);
  const slope = head.getFloat32(16, true);
  const intercept = head.getFloat32(20, true);
  const count = width * height;
  let data;
  if (type === INT16 || type === UINT16) {
    // Two planes: every low byte, then every high byte (version 2).
    const bytes = new Uint8Array(buffer, 24, count * 2);
    const words = new Uint16Array(count);
    for (let i = 0; i < count; i += 1) words[i] = bytes[i] | (bytes[count + i] << 8);
    data = type === INT16 ? new Int16Array(words.buffer) : words;
  } else if (type === RGB8) {
    data = new Uint8Array(buffer.slice(24, 24 + count * 3));
  } else {
    throw new Error(`unknown sample type ${type}`);
  }
  let min = Infinity;
  let max = -Infinity;
  if (type !== RGB8) {
    for (let i = 0; i < data.length; i += 1) {
      const v = data[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return { type, width, height, slope, intercept, data, min, max, bytes: buffer.byteLength };
}

/** The URL of a frame's first pass: averaged down to about 256 a side on the server. */
export function firstPassUrl(url) {
  const address = new URL(url, window.location.href);
  address.searchParams.set("size", "first");
  return address.pathname + address.search;
}

/** A first pass stretched (nearest sample) to the full frame's size, marked as such. */
export function stretch(frame, width, height) {
  const channels = frame.type === RGB8 ? 3 : 1;
  const data = new frame.data.constructor(width * height * channels);
  const columns = new Uint32Array(width);
  for (let x = 0; x < width; x += 1) {
    columns[x] = Math.min(frame.width - 1, Math.floor((x * frame.width) / width));
  }
  for (let y = 0; y < height; y += 1) {
    const from = Math.min(frame.height - 1, Math.floor((y * frame.height) / height)) * frame.width;
    const to = y * width;
    for (let x = 0; x < width; x += 1) {
      for (let c = 0; c < channels; c += 1) {
        data[(to + x) * channels + c] = frame.data[(from + columns[x]) * channels + c];
      }
    }
  }
  return { ...frame, width, height, data, firstPass: true };
}

/** A loader of frames: each URL fetched once, a few at a time, the most wanted first. */
export class FrameLoader {
  constructor({ parallel = 2, onLoaded = () => {} } = {}) {
    this.parallel = parallel;
    this.onLoaded = onLoaded;
    this.frames = new Map(); // url -> parsed frame
    this.pending = new Map(); // url -> promise
    this.queue = []; // urls waiting, most wanted first
    this.running = 0;
    this.fetched = 0;
    this.bytes = 0;
  }

  has(url) {
    return this.frames.has(url);
  }

  /** Whether the frame is here or on its way. */
  known(url) {
    return this.frames.has(url) || this.pending.has(url);
  }

  get(url) {
    return this.frames.get(url);
  }

  /** The frame, fetched now (ahead of anything prefetched). */
  load(url) {
    if (this.frames.has(url)) return Promise.resolve(this.frames.get(url));
    if (this.pending.has(url)) {
      this.#promote(url);
      return this.pending.get(url).promise;
    }
    const entry = this.#entry(url);
    this.queue.unshift(url);
    this.#pump();
    return entry.promise;
  }

  /** Fetch these frames in this order when nothing more urgent waits. */
  prefetch(urls) {
    const wanted = urls.filter((u) => !this.frames.has(u) && !this.pending.has(u));
    for (const url of wanted) this.#entry(url);
    // Already-queued ones move behind the new order: the nearest to the slice on screen lead.
    const order = new Map(urls.map((u, i) => [u, i]));
    this.queue = [...new Set([...this.queue, ...wanted])].sort(
      (a, b) => (order.get(a) ?? 1e9) - (order.get(b) ?? 1e9),
    );
    this.#pump();
  }

  #promote(url) {
    const at = this.queue.indexOf(url);
    if (at > 0) {
      this.queue.splice(at, 1);
      this.queue.unshift(url);
    }
  }

  #entry(url) {
    let resolve;
    let reject;
    const promise = new Promise((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    promise.catch(() => {});
    const entry = { promise, resolve, reject };
    this.pending.set(url, entry);
    return entry;
  }

  #pump() {
    while (this.running < this.parallel && this.queue.length) {
      const url = this.queue.shift();
      const entry = this.pending.get(url);
      if (!entry) continue;
      this.running += 1;
      this.#fetch(url)
        .then((frame) => {
          this.frames.set(url, frame);
          this.pending.delete(url);
          entry.resolve(frame);
          this.onLoaded(url, frame);
        })
        .catch((error) => {
          this.pending.delete(url);
          entry.reject(error);
        })
        .finally(() => {
          this.running -= 1;
          this.#pump();
        });
    }
  }

  async #fetch(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) {
      let message = "";
      try {
        message = (await response.json()).error.message;
      } catch {
        message = `${response.status}`;
      }
      throw new Error(message);
    }
    const buffer = await response.arrayBuffer();
    this.fetched += 1;
    this.bytes += buffer.byteLength;
    return parseFrame(buffer);
  }
}
