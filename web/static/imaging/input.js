// The viewer's input: the mouse (window/level, pan, zoom, measuring, the value under the
// pointer), the wheel, the keys, a one-finger swipe, the slider and the tool buttons. Each acts
// through the viewer's own methods, so a change is painted and announced as any other.

import { transform } from "./paint.js";

function point(viewer, event) {
  const rect = viewer.canvas.getBoundingClientRect();
  const ratio = viewer.canvas.width / rect.width;
  return { x: (event.clientX - rect.left) * ratio, y: (event.clientY - rect.top) * ratio };
}

function imagePoint(viewer, event) {
  return transform(viewer.canvas, viewer.shown, viewer.view).toImage(point(viewer, event));
}

function probe(viewer, event) {
  const frame = viewer.shown;
  if (!frame || !viewer.probe) return;
  const p = imagePoint(viewer, event);
  const x = Math.floor(p.x);
  const y = Math.floor(p.y);
  if (x < 0 || y < 0 || x >= frame.width || y >= frame.height || frame.type === 3) {
    viewer.probe.textContent = "";
    return;
  }
  const value = frame.data[y * frame.width + x] * frame.slope + frame.intercept;
  const unit = viewer.currentSeries().modality === "CT" ? " HU" : "";
  viewer.probe.textContent = `(${x}, ${y}) ${Math.round(value)}${unit}`;
}

function drag(viewer, event) {
  if (!viewer.shown) return;
  const start = point(viewer, event);
  const startView = viewer.getView();
  const range = Math.max((viewer.shown.max - viewer.shown.min) * viewer.shown.slope, 1);
  const first = imagePoint(viewer, event);
  const measuring = viewer.tool === "length" || viewer.tool === "angle";
  if (measuring) {
    if (viewer.draft && viewer.draft.kind === "angle" && viewer.draft.points.length === 2) {
      viewer.draft.points.push(first);
    } else {
      viewer.draft = { kind: viewer.tool, points: [first, { ...first }] };
    }
  }
  const move = (e) => {
    const p = point(viewer, e);
    const dx = p.x - start.x;
    const dy = p.y - start.y;
    if (measuring) {
      viewer.draft.points[viewer.draft.points.length - 1] = imagePoint(viewer, e);
      viewer.repaint();
      return;
    }
    if (viewer.tool === "window") {
      const k = range / 1024;
      viewer.view.width = Math.max(1, startView.width + dx * k * 2);
      viewer.view.center = startView.center + dy * k;
    } else if (viewer.tool === "pan") {
      viewer.view.panX = startView.panX + dx / viewer.canvas.width;
      viewer.view.panY = startView.panY + dy / viewer.canvas.height;
    } else if (viewer.tool === "zoom") {
      viewer.view.zoom = Math.max(0.25, Math.min(16, startView.zoom * Math.exp(-dy / 200)));
    }
    viewer.refresh(true);
  };
  const up = () => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
    if (!measuring) return;
    const done =
      viewer.draft.kind === "length" ||
      (viewer.draft.kind === "angle" && viewer.draft.points.length === 3);
    if (done) {
      viewer.view.measurements.push(viewer.draft);
      viewer.draft = null;
      viewer.refresh(true);
    }
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
}

/** Wire the mouse, keys, touch, slider and buttons of a viewer to it. */
export function wireInput(viewer) {
  viewer.canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    viewer.setSlice(viewer.view.slice + (event.deltaY > 0 ? 1 : -1));
  });
  viewer.canvas.addEventListener("pointerdown", (event) => {
    // The arrow keys then scroll this stack.
    viewer.root.focus({ preventScroll: true });
    if (event.pointerType === "touch") return;
    event.preventDefault();
    drag(viewer, event);
  });
  viewer.canvas.addEventListener("pointermove", (event) => probe(viewer, event));
  wireTouch(viewer);
  viewer.root.addEventListener("keydown", (event) => {
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 10, PageUp: -10 }[
      event.key
    ];
    if (step === undefined) return;
    event.preventDefault();
    viewer.setSlice(viewer.view.slice + step);
  });
  viewer.slider.addEventListener("input", () => viewer.setSlice(Number(viewer.slider.value)));
  for (const item of viewer.root.querySelectorAll(".viewer-series [data-series]")) {
    item.addEventListener("click", () => viewer.selectSeries(Number(item.dataset.series)));
  }
  for (const button of viewer.root.querySelectorAll("[data-tool]")) {
    button.addEventListener("click", () => {
      viewer.tool = button.dataset.tool;
      viewer.draft = null;
      for (const b of viewer.root.querySelectorAll("[data-tool]")) {
        b.setAttribute("aria-pressed", String(b === button));
      }
    });
  }
  const on = (selector, fn) => viewer.root.querySelector(selector)?.addEventListener("click", fn);
  on("[data-action=invert]", () => {
    viewer.view.invert = !viewer.view.invert;
    viewer.refresh(true);
  });
  on("[data-action=reset]", () => viewer.reset());
  on("[data-action=clear]", () => viewer.clearMeasurements());
  on("[data-action=fullscreen]", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else viewer.root.requestFullscreen?.();
  });
  viewer.root.querySelector(".viewer-presets")?.addEventListener("change", (event) => {
    viewer.preset(event.target.value);
  });
}

function wireTouch(viewer) {
  let last = null;
  viewer.canvas.addEventListener("touchstart", (e) => {
    last = e.touches.length === 1 ? e.touches[0].clientY : null;
  });
  viewer.canvas.addEventListener(
    "touchmove",
    (e) => {
      if (last === null || e.touches.length !== 1) return;
      e.preventDefault();
      const dy = e.touches[0].clientY - last;
      if (Math.abs(dy) >= 12) {
        viewer.setSlice(viewer.view.slice + (dy > 0 ? 1 : -1));
        last = e.touches[0].clientY;
      }
    },
    { passive: false },
  );
}
