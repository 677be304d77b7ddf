// The study viewer: series list, stack scrolling, window/level, zoom/pan, measurements, the
// value under the pointer. The state that others may follow is one plain object, the "view"
// (getView/setView), and every change of it is announced through onChange.

import { FrameLoader, firstPassUrl, stretch } from "./frames.js";
import { wireInput } from "./input.js";
import {
  angleDeg,
  lengthMm,
  orientationMarkers,
  paintFrame,
  paintView,
  transform,
} from "./paint.js";

// Presets of CT windows (center, width) in Hounsfield units.
export const CT_PRESETS = {
  lung: [-600, 1500],
  mediastinum: [40, 400],
  bone: [400, 1800],
  brain: [40, 80],
  abdomen: [60, 400],
};

function freshView(series = 0, slice = 0) {
  return {
    series,
    slice,
    center: null,
    width: null,
    invert: false,
    zoom: 1,
    panX: 0,
    panY: 0,
    measurements: [],
  };
}

export class Viewer {
  constructor(root, study, texts) {
    this.root = root;
    this.study = study;
    this.texts = texts;
    this.canvas = root.querySelector("canvas.viewer-canvas");
    this.imageCanvas = document.createElement("canvas");
    this.slider = root.querySelector(".viewer-slider");
    this.info = root.querySelector(".viewer-info");
    this.probe = root.querySelector(".viewer-probe");
    this.attrs = root.querySelector(".viewer-attributes");
    this.tool = "window";
    this.draft = null;
    this.onChange = () => {};
    this.loader = new FrameLoader({ onLoaded: () => this.#loadedOne() });
    this.shown = null; // the frame on screen
    this.started = false; // a full frame has arrived: the rest may share the link
    const start = Number(new URLSearchParams(window.location.search).get("series") || 0);
    this.view = freshView(Math.min(Math.max(start, 0), study.series.length - 1), 0);
    this.view.slice = Math.floor(this.#series().slices.length / 2);
    this.#buildSeriesList();
    wireInput(this);
    new ResizeObserver(() => this.#resize()).observe(this.canvas.parentElement);
    this.#resize();
    this.selectSeries(this.view.series, { keepSlice: true });
  }

  /** The series on screen. */
  currentSeries() {
    return this.#series();
  }

  /** Show the view again (announced to followers when `announce`). */
  refresh(announce = true) {
    this.#show(announce);
  }

  /** Paint the frame on screen again (a measurement being drawn). */
  repaint() {
    this.#paint();
  }

  #series() {
    return this.study.series[this.view.series];
  }

  /** The series buttons, when the page did not render them (the room's viewer). */
  #buildSeriesList() {
    const list = this.root.querySelector(".viewer-series");
    if (!list || list.children.length) return;
    this.study.series.forEach((series, index) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.series = String(index);
      if (series.thumbnail) {
        const img = document.createElement("img");
        img.dataset.src = series.thumbnail;
        img.alt = "";
        img.loading = "lazy";
        button.append(img);
      }
      const name = document.createElement("span");
      name.textContent = series.description || `${this.texts.series} ${series.number ?? index + 1}`;
      const count = document.createElement("span");
      count.className = "muted";
      count.textContent = `${series.slices.length} ${this.texts.images.toLowerCase()}`;
      button.append(name, count);
      item.append(button);
      list.append(item);
    });
  }

  #url(index) {
    return this.#series().slices[index].pixels;
  }

  /** The view others can follow: plain data only. */
  getView() {
    return JSON.parse(JSON.stringify(this.view));
  }

  /** Take on a view (someone else's, or a reset). */
  setView(view, { announce = false } = {}) {
    const seriesChanged = view.series !== this.view.series;
    this.view = { ...freshView(), ...JSON.parse(JSON.stringify(view)) };
    if (seriesChanged) this.#seriesChanged();
    this.#show(announce);
  }

  selectSeries(index, { keepSlice = false } = {}) {
    if (!keepSlice) {
      this.view = freshView(index, Math.floor(this.study.series[index].slices.length / 2));
    }
    this.#seriesChanged();
    this.#show(true);
  }

  #seriesChanged() {
    const series = this.#series();
    this.slider.max = String(series.slices.length - 1);
    for (const item of this.root.querySelectorAll(".viewer-series [data-series]")) {
      item.classList.toggle("is-active", Number(item.dataset.series) === this.view.series);
    }
    this.#attributes();
  }

  setSlice(index) {
    const count = this.#series().slices.length;
    const next = Math.max(0, Math.min(count - 1, index));
    if (next === this.view.slice) return;
    this.view.slice = next;
    this.#show(true);
  }

  #defaultWindow(frame) {
    const series = this.#series();
    if (Array.isArray(series.window) && series.window.length === 2) return series.window;
    const lo = frame.min * frame.slope + frame.intercept;
    const hi = frame.max * frame.slope + frame.intercept;
    return [(lo + hi) / 2, Math.max(hi - lo, 1)];
  }

  preset(name) {
    const frame = this.shown;
    const chosen = name === "file" && frame ? this.#defaultWindow(frame) : CT_PRESETS[name];
    if (!chosen) return;
    [this.view.center, this.view.width] = chosen;
    this.#show(true);
  }

  reset() {
    this.view = freshView(this.view.series, this.view.slice);
    this.#show(true);
  }

  clearMeasurements() {
    this.view.measurements = [];
    this.draft = null;
    this.#show(true);
  }

  async #show(announce) {
    const slices = this.#series().slices;
    const index = this.view.slice;
    this.slider.value = String(index);
    const url = this.#url(index);
    // Once the first image is on screen the rest may share the link; before, it has it alone.
    if (this.started) this.#prefetch(index);
    if (announce) this.onChange(this.getView());
    let frame;
    try {
      await this.#firstPass(index, url);
      frame = await this.loader.load(url);
    } catch (error) {
      this.info.textContent = `${this.texts.failed}: ${error.message}`;
      return;
    }
    if (!this.started) {
      this.started = true;
      this.#prefetch(index);
      this.#showThumbnails();
    }
    if (this.#url(this.view.slice) !== url) return; // scrolled on meanwhile
    this.#present(index, frame);
    this.root.dataset.ready = "true";
  }

  /** A slice not on its way yet is first shown from its first pass (a quarter of the bytes on
   * a CT), stretched to the full frame's size so the pointer and measurements keep their
   * coordinates; the full frame replaces it as soon as it arrives. */
  async #firstPass(index, url) {
    const [width, height] = this.#series().frame_size || [];
    const [smallWidth] = this.#series().first_pass_size || [];
    if (!width || !smallWidth || smallWidth >= width || this.loader.known(url)) return;
    const rough = await this.loader.load(firstPassUrl(url));
    if (this.#url(this.view.slice) !== url || this.loader.has(url)) return;
    this.#present(index, stretch(rough, width, height));
  }

  #present(index, frame) {
    const slices = this.#series().slices;
    if (this.view.center === null) [this.view.center, this.view.width] = this.#defaultWindow(frame);
    this.shown = frame;
    this.#paint();
    const s = slices[index];
    const where = s.location === null ? "" : ` · ${this.texts.position} ${s.location.toFixed(1)} mm`;
    this.info.textContent =
      `${this.texts.image} ${index + 1}/${slices.length}${where} · ` +
      `W ${Math.round(this.view.width)} L ${Math.round(this.view.center)}`;
    this.root.dataset.slice = String(index);
    // "first" while a first pass is on screen, "full" once the frame itself is.
    this.root.dataset.painted = frame.firstPass ? "first" : "full";
  }

  #paint() {
    const frame = this.shown;
    if (!frame) return;
    const series = this.#series();
    paintFrame(this.imageCanvas, frame, {
      center: this.view.center,
      width: this.view.width,
      invert: this.view.invert,
      monochrome1: series.photometric === "MONOCHROME1",
    });
    const measurements = this.draft
      ? [...this.view.measurements, this.draft]
      : this.view.measurements;
    const factor = (series.columns || frame.width) / frame.width;
    paintView(this.canvas, this.imageCanvas, frame, { ...this.view, measurements }, {
      spacing: series.pixel_spacing,
      factor,
      markers: orientationMarkers(series.orientation),
    });
    this.#listMeasurements(series.pixel_spacing, factor);
  }

  /** The measurements as text too: readable by screen readers and copyable into the minutes. */
  #listMeasurements(spacing, factor) {
    const list = this.root.querySelector(".viewer-measurements");
    if (!list) return;
    list.replaceChildren();
    for (const m of this.view.measurements) {
      const item = document.createElement("li");
      item.textContent =
        m.kind === "length"
          ? `${lengthMm(m.points[0], m.points[1], spacing, factor).toFixed(1)} mm`
          : `${angleDeg(m.points[0], m.points[1], m.points[2], spacing).toFixed(1)}°`;
      list.append(item);
    }
  }

  /** Where an image pixel is on the page (for tests and for pointing it out to others). */
  imageToClient(x, y) {
    const rect = this.canvas.getBoundingClientRect();
    const p = transform(this.canvas, this.shown, this.view).toCanvas({ x, y });
    const ratio = rect.width / this.canvas.width;
    return { x: rect.left + p.x * ratio, y: rect.top + p.y * ratio };
  }

  /** The series thumbnails, asked for only after the first image (they share the link). */
  #showThumbnails() {
    for (const img of this.root.querySelectorAll(".viewer-series img[data-src]")) {
      img.src = img.dataset.src;
      img.removeAttribute("data-src");
    }
  }

  #prefetch(index) {
    const count = this.#series().slices.length;
    const order = [];
    for (let d = 1; d < count; d += 1) {
      if (index + d < count) order.push(this.#url(index + d));
      if (index - d >= 0) order.push(this.#url(index - d));
    }
    this.loader.prefetch(order);
  }

  #loadedOne() {
    const count = this.#series().slices.length;
    const have = this.#series().slices.filter((s) => this.loader.has(s.pixels)).length;
    this.root.dataset.loaded = String(have);
    const bar = this.root.querySelector(".viewer-progress");
    if (bar) {
      bar.max = count;
      bar.value = have;
      bar.hidden = have >= count;
    }
  }

  #attributes() {
    const series = this.#series();
    const rows = [
      [this.texts.modality, series.modality],
      [this.texts.series, series.description],
      [this.texts.size, series.rows && series.columns ? `${series.columns} × ${series.rows}` : ""],
      [
        this.texts.spacing,
        series.pixel_spacing ? `${series.pixel_spacing.map((v) => v.toFixed(3)).join(" × ")} mm` : "",
      ],
      [this.texts.syntax, series.transfer_syntax],
      [this.texts.images, String(series.slices.length)],
    ];
    this.attrs.replaceChildren();
    for (const [name, value] of rows) {
      if (!value) continue;
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      this.attrs.append(dt, dd);
    }
  }

  #resize() {
    const box = this.canvas.parentElement.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(64, Math.round(box.width * ratio));
    const height = Math.max(64, Math.round(box.height * ratio));
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.#paint();
    }
  }
}
