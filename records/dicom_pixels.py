"""One DICOM frame as the viewer's canvas needs it: the stored integers, compact and exact.

The browser applies the modality rescale and the window itself (no round trip per drag), so it
gets the values as stored, not an 8-bit picture. A frame is packed as a 24-byte head followed
by the samples, little-endian, and gzipped (CT compresses well: air and the table repeat):

    "TMPX", u16 version (1), u16 type (1 int16, 2 uint16, 3 RGB, 8 bits a sample),
    u32 columns, u32 rows, f32 rescale slope, f32 rescale intercept

A frame larger than ``max_size`` a side is averaged down in blocks (``dicom.shrink``) first;
the factor is reported so lengths stay right. Decoding runs only in a render worker.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.pixels.processing import apply_modality_lut, convert_color_space

from . import dicom
from .errors import Invalid
from .messages import msg

MAGIC = b"TMPX"
HEAD = struct.Struct("<4sHHIIff")
INT16, UINT16, RGB8 = 1, 2, 3
MAX_SIZE = 2048
# The first pass of a slice: shown while the full one is on its way over a slow link.
FIRST_PASS_SIZE = 256
VERSION = 2


def _undecodable(syntax: object) -> Invalid:
    name = getattr(syntax, "name", "") or str(syntax or "")
    return Invalid(
        msg(
            "Không giải mã được ảnh DICOM (định dạng nén %(name)s)",
            name=name or msg("không rõ"),
        )
    )


def _gray(pixels: NDArray[Any], max_size: int) -> tuple[NDArray[Any], int]:
    rows, cols = pixels.shape
    factor = dicom.shrink_factor(rows, cols, max_size)
    data = dicom.shrink(pixels, max_size) if factor >= 2 else pixels
    if factor >= 2:
        data = np.rint(data)
    lo, hi = float(data.min(initial=0)), float(data.max(initial=0))
    if lo >= -32768 and hi <= 32767:
        return data.astype("<i2"), INT16
    if lo >= 0 and hi <= 65535:
        return data.astype("<u2"), UINT16
    raise Invalid(msg("Ảnh DICOM có giá trị điểm ảnh ngoài phạm vi 16 bit"))


def packed_size(rows: int, columns: int, max_size: int = MAX_SIZE) -> tuple[int, int]:
    """The rows and columns of a frame of this size once packed."""
    return dicom.shrunk_size(rows, columns, max_size)


def pack(path: Path, *, frame: int = 0, max_size: int = MAX_SIZE) -> tuple[bytes, dict[str, Any]]:
    """The frame packed for the viewer (gzipped), and facts about it."""
    ds = dicom.read_header(path)
    columns, rows = dicom.frame_size(path)
    if not 0 <= frame < dicom.frame_count(ds):
        raise Invalid(msg(dicom.NO_FRAME, frame=frame + 1))
    try:
        pixels = dicom.decode_frame(path, frame)
    except MemoryError:
        raise
    except Exception:
        raise _undecodable(getattr(ds.file_meta, "TransferSyntaxUID", None)) from None
    slope, intercept = dicom.rescale(ds)
    samples = int(ds.get("SamplesPerPixel") or 1)
    if samples == 1 and pixels.ndim == 2:
        if "ModalityLUTSequence" in ds:
            pixels = apply_modality_lut(pixels, ds)
            slope, intercept = 1.0, 0.0
        data, kind = _gray(pixels, max_size)
    elif samples == 3 and pixels.ndim == 3 and pixels.shape[-1] == 3:
        shrunk = dicom.shrink(pixels, max_size)
        data = np.clip(np.rint(shrunk), 0, 255).astype(np.uint8) if shrunk is not pixels else pixels
        if pixels.dtype != np.uint8:
            scale = float(pixels.max()) or 1.0
            data = np.clip(np.rint(shrunk.astype(np.float32) * 255 / scale), 0, 255)
            data = data.astype(np.uint8)
        photometric = str(ds.get("PhotometricInterpretation", "")).strip()
        if photometric in ("YBR_FULL", "YBR_FULL_422"):
            data = convert_color_space(data, "YBR_FULL", "RGB")
        kind, slope, intercept = RGB8, 1.0, 0.0
    else:
        raise Invalid(dicom.NO_IMAGE)
    height, width = data.shape[:2]
    head = HEAD.pack(MAGIC, VERSION, kind, width, height, slope, intercept)
    values: NDArray[Any] = np.ascontiguousarray(data)
    if kind != RGB8:
        pairs = values.view(np.uint8).reshape(-1, 2)
        values = np.concatenate([pairs[:, 0], pairs[:, 1]])
    body = gzip.compress(head + values.tobytes(), compresslevel=6, mtime=0)
    factor = columns / width if width else 1.0
    return body, {"columns": width, "rows": height, "factor": factor, "type": kind}
