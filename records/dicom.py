"""DICOM files: the key facts of a study, and a PNG of its first frame for the browser."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut
from pydicom.pixels.utils import pixel_array as decode_pixels

from .errors import Invalid
from .messages import msg

MAX_PREVIEW = 1024
UNREADABLE = msg("Tệp DICOM bị hỏng hoặc không đọc được")
NO_IMAGE = msg("Tệp DICOM này không chứa ảnh để hiển thị")

# Tags kept in the attachment's metadata. Patient identifiers are left out on purpose: the
# case already names the patient, and a copy in free-form metadata would escape access rules.
_TEXT_TAGS = {
    "modality": "Modality",
    "study_description": "StudyDescription",
    "series_description": "SeriesDescription",
    "body_part": "BodyPartExamined",
    "institution": "InstitutionName",
    "manufacturer": "Manufacturer",
}


def _first(value: Any) -> Any:
    """The first item of a multi-valued element, or the value itself."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return value[0] if len(value) else None
    return value


def _read_header(path: Path) -> Dataset:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
            # pydicom reads leniently; a file without a transfer syntax or any data is junk.
            if not syntax or len(ds) == 0:
                raise ValueError("no transfer syntax or no data elements")
            return ds
    except Exception:
        raise Invalid(UNREADABLE, fields={"file": UNREADABLE}) from None


def _iso_date(value: Any) -> str | None:
    text = str(value or "").strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text or None


def read_meta(path: Path) -> dict[str, Any]:
    """Modality, study date and description, body part, size, frames, institution."""
    ds = _read_header(path)
    meta: dict[str, Any] = {}
    for key, tag in _TEXT_TAGS.items():
        value = _first(ds.get(tag))
        text = str(value).strip() if value is not None else ""
        if text:
            meta[key] = text[:200]
    study_date = _iso_date(ds.get("StudyDate"))
    if study_date:
        meta["study_date"] = study_date[:20]
    for key, tag in (("rows", "Rows"), ("columns", "Columns")):
        value = ds.get(tag)
        if value is not None:
            meta[key] = int(value)
    try:
        meta["frames"] = max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        meta["frames"] = 1
    return meta


def _window(ds: Dataset) -> tuple[float, float] | None:
    center = _first(ds.get("WindowCenter"))
    width = _first(ds.get("WindowWidth"))
    try:
        c, w = float(center), float(width)
    except (TypeError, ValueError):
        return None
    return (c, w) if w >= 1 else None


def _to_8bit_gray(values: NDArray[Any], ds: Dataset) -> NDArray[np.uint8]:
    data = values.astype(np.float64)
    window = _window(ds)
    if window is not None:
        # The linear VOI function of PS3.3 C.11.2.1.2.1.
        c, w = window
        scaled = (data - (c - 0.5)) / max(w - 1, 1) + 0.5
    else:
        lo, hi = float(np.min(data)), float(np.max(data))
        scaled = (data - lo) / (hi - lo) if hi > lo else np.zeros_like(data)
    out = np.clip(scaled, 0.0, 1.0) * 255.0
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        out = 255.0 - out
    return out.round().astype(np.uint8)


def _to_8bit_color(values: NDArray[Any]) -> NDArray[np.uint8]:
    if values.dtype == np.uint8:
        return values.astype(np.uint8)
    data = values.astype(np.float64)
    hi = float(np.max(data)) or 1.0
    return (np.clip(data / hi, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def render_png(path: Path, *, max_size: int = MAX_PREVIEW) -> bytes:
    """The first frame as a PNG no larger than ``max_size`` pixels a side, windowed for viewing."""
    ds = _read_header(path)
    if "Rows" not in ds or "Columns" not in ds:
        raise Invalid(NO_IMAGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Only the first frame is decoded: a multi-frame study can be hundreds of MB.
            frame = decode_pixels(path, index=0)
    except Exception:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", "") or str(syntax or "")
        raise Invalid(
            msg(
                "Không giải mã được ảnh DICOM (định dạng nén %(name)s)",
                name=name or msg("không rõ"),
            )
        ) from None
    samples = int(ds.get("SamplesPerPixel") or 1)
    if samples == 1:
        if frame.ndim != 2:
            raise Invalid(NO_IMAGE)
        image = Image.fromarray(_to_8bit_gray(apply_modality_lut(frame, ds), ds))
    else:
        if frame.ndim != 3 or frame.shape[-1] != 3:
            raise Invalid(NO_IMAGE)
        image = Image.fromarray(_to_8bit_color(frame))
    image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
