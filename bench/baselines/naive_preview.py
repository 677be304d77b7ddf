"""The preview as Telemed rendered it before the render workers, for comparison.

Decodes the first frame with pydicom, applies the modality LUT and the window in float64 over
the whole frame, and scales it down with Pillow, all in this process: what the server did in a
thread. With ``--header``, only what the upload did before: read the header with pydicom
(which inflates the whole of a deflated file). Prints the peak RSS and the time as JSON.
Run: ``python -m bench.baselines.naive_preview [--header] FILE.dcm``.
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels.processing import apply_modality_lut
from pydicom.pixels.utils import pixel_array


def render(path: str) -> bytes:
    """The old ``records.dicom.render_png`` for one grey frame."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    data = apply_modality_lut(pixel_array(path, index=0), ds).astype(np.float64)
    lo, hi = float(np.min(data)), float(np.max(data))
    scaled = (data - lo) / (hi - lo) if hi > lo else np.zeros_like(data)
    out = np.clip(scaled, 0.0, 1.0) * 255.0
    image = Image.fromarray(out.round().astype(np.uint8))
    image.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def main() -> int:
    """Render the file given on the command line and report."""
    start_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if sys.argv[1] == "--header":
        pydicom.dcmread(sys.argv[2], stop_before_pixels=True)
    else:
        render(sys.argv[1])
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"start_mb": start_kb / 1024, "peak_mb": peak_kb / 1024, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
