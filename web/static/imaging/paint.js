// Painting a frame: window/level through a lookup table into an image-sized canvas, then the
// view (zoom, pan), measurements and orientation markers onto the visible canvas. No DOM state.

import { RGB8 } from "./frames.js";

/** The grey level (0–255) of a modality value under a window (DICOM PS3.3 C.11.2.1.2.1). */
export function windowed(value, center, width) {
  const w = Math.max(width, 1);
  const y = ((value - (center - 0.5)) / (w - 1 || 1) + 0.5) * 255;
  return Math.max(0, Math.min(255, Math.round(y)));
}

/** Draw the frame's samples, windowed, into ``target`` (a canvas of the frame's size). */
export function paintFrame(target, frame, { center, width, invert = false, monochrome1 = false }) {
  if (target.width !== frame.width) target.width = frame.width;
  if (target.height !== frame.height) target.height = frame.height;
  const ctx = target.getContext("2d", { willReadFrequently: true });
  const image = ctx.createImageData(frame.width, frame.height);
  const out = image.data;
  const src = frame.data;
  if (frame.type === RGB8) {
    for (let i = 0, j = 0; i < src.length; i += 3, j += 4) {
      out[j] = invert ? 255 - src[i] : src[i];
      out[j + 1] = invert ? 255 - src[i + 1] : src[i + 1];
      out[j + 2] = invert ? 255 - src[i + 2] : src[i + 2];
      out[j + 3] = 255;
    }
  } else {
    // One table entry per stored value present: the window costs one lookup a pixel.
    const lo = frame.min;
    const lut = new Uint8Array(frame.max - lo + 1);
    const flip = invert !== monochrome1;
    for (let k = 0; k < lut.length; k += 1) {
      const g = windowed((k + lo) * frame.slope + frame.intercept, center, width);
      lut[k] = flip ? 255 - g : g;
    }
    for (let i = 0, j = 0; i < src.length; i += 1, j += 4) {
      const g = lut[src[i] - lo];
      out[j] = g;
      out[j + 1] = g;
      out[j + 2] = g;
      out[j + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}

/** The transform from image pixels to canvas pixels for a view. */
export function transform(canvas, frame, view) {
  const fit = Math.min(canvas.width / frame.width, canvas.height / frame.height);
  const scale = fit * view.zoom;
  const x0 = canvas.width / 2 - (frame.width / 2) * scale + view.panX * canvas.width;
  const y0 = canvas.height / 2 - (frame.height / 2) * scale + view.panY * canvas.height;
  return {
    scale,
    toCanvas: (p) => ({ x: x0 + p.x * scale, y: y0 + p.y * scale }),
    toImage: (p) => ({ x: (p.x - x0) / scale, y: (p.y - y0) / scale }),
  };
}

/** Millimetres between two image points (PixelSpacing: row spacing, then column spacing). */
export function lengthMm(a, b, spacing, factor = 1) {
  const [rowMm, colMm] = spacing || [1, 1];
  const dx = (b.x - a.x) * colMm * factor;
  const dy = (b.y - a.y) * rowMm * factor;
  return Math.hypot(dx, dy);
}

/** Degrees of the angle at ``b`` between ``a`` and ``c`` (physical, not pixel, space). */
export function angleDeg(a, b, c, spacing) {
  const [rowMm, colMm] = spacing || [1, 1];
  const u = { x: (a.x - b.x) * colMm, y: (a.y - b.y) * rowMm };
  const v = { x: (c.x - b.x) * colMm, y: (c.y - b.y) * rowMm };
  const cos = (u.x * v.x + u.y * v.y) / (Math.hypot(u.x, u.y) * Math.hypot(v.x, v.y) || 1);
  return (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI;
}

const AXES = [
  ["L", "R"],
  ["P", "A"],
  ["H", "F"],
];

/** The patient direction a unit vector points to, e.g. "L" or "LP" (strongest first). */
export function direction(vector) {
  const parts = vector
    .map((v, axis) => ({ v, axis }))
    .filter(({ v }) => Math.abs(v) > 0.25)
    .sort((a, b) => Math.abs(b.v) - Math.abs(a.v));
  return parts.map(({ v, axis }) => AXES[axis][v > 0 ? 0 : 1]).join("");
}

/** The four edge labels (top, right, bottom, left) from ImageOrientationPatient, or null. */
export function orientationMarkers(orientation) {
  if (!orientation || orientation.length !== 6) return null;
  const row = orientation.slice(0, 3);
  const col = orientation.slice(3);
  const neg = (v) => v.map((x) => -x);
  return {
    top: direction(neg(col)),
    right: direction(row),
    bottom: direction(col),
    left: direction(neg(row)),
  };
}

function label(ctx, text, x, y, align = "left") {
  ctx.font = `${Math.round(13 * (window.devicePixelRatio || 1))}px sans-serif`;
  ctx.textAlign = align;
  ctx.lineWidth = 3;
  ctx.strokeStyle = "rgba(0,0,0,0.8)";
  ctx.strokeText(text, x, y);
  ctx.fillStyle = "#ffd54f";
  ctx.fillText(text, x, y);
}

/** Draw the image canvas with the view, then measurements and markers. */
export function paintView(canvas, imageCanvas, frame, view, extras) {
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const t = transform(canvas, frame, view);
  const origin = t.toCanvas({ x: 0, y: 0 });
  ctx.imageSmoothingEnabled = t.scale < 1;
  ctx.drawImage(imageCanvas, origin.x, origin.y, frame.width * t.scale, frame.height * t.scale);
  ctx.strokeStyle = "#4fc3f7";
  ctx.lineWidth = 2;
  for (const m of view.measurements) {
    const pts = m.points.map(t.toCanvas);
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
    ctx.stroke();
    const end = pts[pts.length - 1];
    const text =
      m.kind === "length"
        ? `${lengthMm(m.points[0], m.points[1], extras.spacing, extras.factor).toFixed(1)} mm`
        : m.points.length === 3
          ? `${angleDeg(m.points[0], m.points[1], m.points[2], extras.spacing).toFixed(1)}°`
          : "";
    if (text) label(ctx, text, end.x + 6, end.y - 6);
  }
  const markers = extras.markers;
  if (markers) {
    const w = canvas.width;
    const h = canvas.height;
    label(ctx, markers.top, w / 2, 18, "center");
    label(ctx, markers.bottom, w / 2, h - 8, "center");
    label(ctx, markers.left, 8, h / 2);
    label(ctx, markers.right, w - 8, h / 2, "right");
  }
}
