"""DICOM files: the key facts of a study, and a PNG of one frame for the browser.

Headers are read in the server process (at upload) with bounded memory: large elements are
left unread, and a deflated file is inflated only as far as its header. Pixels are decoded only
by ``render_png``, which runs in a render worker (``records.render``): one frame is decoded in
its stored integer type, averaged down in blocks to about the preview's size, and only that
small image is windowed, in float32. How many pixels a frame may have is the job's decision
(``records.render.jobs``), taken from ``frame_size`` before anything is decoded.
"""

from __future__ import annotations

import io
import logging
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import read_dataset, read_preamble
from pydicom.pixels.processing import apply_modality_lut, convert_color_space
from pydicom.pixels.utils import pixel_array as decode_pixels
from pydicom.tag import BaseTag
from pydicom.uid import DeflatedExplicitVRLittleEndian

from .errors import Invalid
from .messages import N_, msg

MAX_PREVIEW = 1024
UNREADABLE = msg("Tệp DICOM bị hỏng hoặc không đọc được")
NO_IMAGE = msg("Tệp DICOM này không chứa ảnh để hiển thị")
NO_FRAME = N_("Tệp DICOM không có khung hình số %(frame)s")
# Elements longer than this are not read with the header (they are never shown).
DEFER_SIZE = 64 * 1024
# How much of a deflated file is inflated to read its header, which is read only up to the
# image pixel module (group 0028): the groups after it (overlays, vendors' private data, the
# pixels) can be large and hold nothing shown here.
DEFLATED_HEADER_BYTES = 4 * 1024 * 1024
_LAST_HEADER_GROUP = 0x0028

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


def _past_file_meta(tag: BaseTag, vr: str | None, length: int) -> bool:
    return tag.group != 2


def _past_image_module(tag: BaseTag, vr: str | None, length: int) -> bool:
    return int(tag.group) > _LAST_HEADER_GROUP


def _parse_header(path: Path) -> Dataset:
    """The elements before the pixels (of a deflated file: up to group 0028), in bounded memory."""
    with open(path, "rb") as f:
        read_preamble(f, False)
        file_meta = FileMetaDataset(
            read_dataset(f, is_implicit_VR=False, is_little_endian=True, stop_when=_past_file_meta)
        )
        if file_meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
            return pydicom.dcmread(path, stop_before_pixels=True, defer_size=DEFER_SIZE)
        # pydicom inflates a whole deflated file to read any of it; a few kilobytes of zeros
        # can declare gigabytes. Only the start is inflated here, where the header lives.
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        body = inflater.decompress(f.read(DEFLATED_HEADER_BYTES), DEFLATED_HEADER_BYTES)
    ds = read_dataset(
        io.BytesIO(body), is_implicit_VR=False, is_little_endian=True, stop_when=_past_image_module
    )
    ds.file_meta = file_meta
    return ds


def _read_header(path: Path) -> Dataset:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = _parse_header(path)
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
    meta["frames"] = _frames(ds)
    meta.update(geometry(ds))
    return meta


def _numbers(value: Any, count: int) -> list[float] | None:
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(np.isfinite(numbers)) else None


def _uid(ds: Dataset, tag: str) -> str | None:
    text = str(ds.get(tag) or "").strip()
    # A UID is digits and dots, at most 64 characters (PS3.5 9.1).
    if 0 < len(text) <= 64 and all(c.isdigit() or c == "." for c in text):
        return text
    return None


def geometry(ds: Dataset) -> dict[str, Any]:
    """What places a file in its study: UIDs, numbers, position, orientation, spacing, syntax."""
    out: dict[str, Any] = {}
    for key, tag in (
        ("study_uid", "StudyInstanceUID"),
        ("series_uid", "SeriesInstanceUID"),
        ("instance_uid", "SOPInstanceUID"),
    ):
        uid = _uid(ds, tag)
        if uid:
            out[key] = uid
    for key, tag in (("series_number", "SeriesNumber"), ("instance_number", "InstanceNumber")):
        try:
            out[key] = int(ds.get(tag))
        except (TypeError, ValueError):
            pass
    for key, tag, count in (
        ("position", "ImagePositionPatient", 3),
        ("orientation", "ImageOrientationPatient", 6),
        ("pixel_spacing", "PixelSpacing", 2),
    ):
        numbers = _numbers(ds.get(tag), count)
        if numbers is not None:
            out[key] = numbers
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax:
        out["transfer_syntax"] = str(syntax)[:64]
    window = _window(ds)
    if window is not None:
        out["window"] = list(window)
    out["rescale"] = list(_rescale(ds))
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric:
        out["photometric"] = photometric[:20]
    return out


def read_identity(path: Path) -> dict[str, str]:
    """The patient the file names (ID, name, birth date), for the check against the case."""
    ds = _read_header(path)
    out: dict[str, str] = {}
    for key, tag in (
        ("patient_id", "PatientID"),
        ("patient_name", "PatientName"),
        ("birth_date", "PatientBirthDate"),
    ):
        text = str(ds.get(tag) or "").strip()[:200]
        if text:
            out[key] = text
    return out


def _frames(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def _window(ds: Dataset) -> tuple[float, float] | None:
    center = _first(ds.get("WindowCenter"))
    width = _first(ds.get("WindowWidth"))
    try:
        c, w = float(center), float(width)
    except (TypeError, ValueError):
        return None
    return (c, w) if w >= 1 else None


def _rescale(ds: Dataset) -> tuple[float, float]:
    try:
        return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    except (TypeError, ValueError):
        return 1.0, 0.0


def shrink_factor(rows: int, cols: int, max_size: int) -> int:
    """The side of the blocks `shrink` averages (1: the frame is kept as it is)."""
    factor = min(max(rows, cols) // max_size, rows, cols)
    return factor if factor >= 2 else 1


def shrunk_size(rows: int, cols: int, max_size: int) -> tuple[int, int]:
    """The rows and columns `shrink` gives a frame of this size."""
    factor = shrink_factor(rows, cols, max_size)
    return rows // factor, cols // factor


def shrink(values: NDArray[Any], max_size: int) -> NDArray[Any]:
    """Average square blocks of pixels so the longer side ends between max_size and twice it.

    The blocks are a view of the frame and the sums are taken in integers (floats for float
    pixels) a buffer at a time, so nothing as large as the frame is allocated. Up to one
    block's width is dropped at the right and bottom edges. A frame already small enough is
    returned as it is.
    """
    rows, cols = values.shape[:2]
    factor = shrink_factor(rows, cols, max_size)
    if factor < 2:
        return values
    height, width = rows // factor, cols // factor
    blocks = values[: height * factor, : width * factor].reshape(
        height, factor, width, factor, *values.shape[2:]
    )
    exact = np.float64 if values.dtype.kind == "f" else np.int64
    total = blocks.sum(axis=(1, 3), dtype=exact)
    out: NDArray[np.float32] = (total / (factor * factor)).astype(np.float32)
    return out


def _to_8bit_gray(frame: NDArray[Any], ds: Dataset, max_size: int) -> NDArray[np.uint8]:
    slope, intercept = _rescale(ds)
    if "ModalityLUTSequence" in ds:
        # A lookup table is not linear, so it maps the stored integers before any averaging.
        frame = apply_modality_lut(frame, ds)
        slope, intercept = 1.0, 0.0
    data = shrink(frame, max_size).astype(np.float32)
    if slope != 1.0 or intercept != 0.0:
        data *= np.float32(slope)
        data += np.float32(intercept)
    window = _window(ds)
    if window is not None:
        # The linear VOI function of PS3.3 C.11.2.1.2.1.
        c, w = window
        data -= np.float32(c - 0.5)
        data /= np.float32(max(w - 1, 1))
        data += np.float32(0.5)
    else:
        lo, hi = float(data.min()), float(data.max())
        if hi > lo:
            data -= np.float32(lo)
            data /= np.float32(hi - lo)
        else:
            data[...] = 0
    np.clip(data, 0.0, 1.0, out=data)
    data *= np.float32(255)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        np.subtract(np.float32(255), data, out=data)
    return np.rint(data).astype(np.uint8)


def _to_8bit_color(frame: NDArray[Any], ds: Dataset, max_size: int) -> NDArray[np.uint8]:
    data = shrink(frame, max_size)
    if frame.dtype == np.uint8:
        out = data if data.dtype == np.uint8 else np.rint(data).astype(np.uint8)
    else:
        scaled = data.astype(np.float32)
        hi = float(scaled.max()) or 1.0
        scaled /= np.float32(hi)
        np.clip(scaled, 0.0, 1.0, out=scaled)
        out = np.rint(scaled * np.float32(255)).astype(np.uint8)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric in ("YBR_FULL", "YBR_FULL_422"):
        # Converted after shrinking: the colour transform works on the small image only.
        out = convert_color_space(out, "YBR_FULL", "RGB")
    return out


class _DecoderFailures(logging.Handler):
    """Notices a failed allocation among the exceptions pydicom's decoders log.

    pydicom 3 (``DecodeRunner._decode_frame``) catches what each decoding plugin raises, logs it
    with ``LOGGER.exception`` and raises one ``RuntimeError`` holding only the messages: a worker
    out of address space would read as a file that cannot be decoded. The logged records keep
    the original exception. Should pydicom stop logging them, such a file is still refused and
    remembered, with the less accurate message; test_a_failed_render_is_remembered_for_its_limits
    (tests/records/test_attachment_previews.py) notices.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.out_of_memory = False

    def emit(self, record: logging.LogRecord) -> None:
        """Remember whether a logged exception was a MemoryError."""
        if record.exc_info and isinstance(record.exc_info[1], MemoryError):
            self.out_of_memory = True


def _decode(path: Path, frame: int) -> NDArray[Any]:
    """One frame as stored (``raw``: colour conversion waits until the frame is small)."""
    failures = _DecoderFailures()
    pydicom_log = logging.getLogger("pydicom")
    pydicom_log.addHandler(failures)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels: NDArray[Any] = decode_pixels(path, index=frame, raw=True)
            return pixels
    except Exception as exc:
        if failures.out_of_memory or isinstance(exc, MemoryError):
            raise MemoryError from exc
        raise
    finally:
        pydicom_log.removeHandler(failures)


def _size(ds: Dataset) -> tuple[int, int]:
    try:
        return int(ds.Columns), int(ds.Rows)
    except (AttributeError, TypeError, ValueError):
        raise Invalid(NO_IMAGE) from None


def frame_size(path: Path) -> tuple[int, int]:
    """Width and height of the file's frames, from its header alone."""
    return _size(_read_header(path))


def render_png(path: Path, *, max_size: int = MAX_PREVIEW, frame: int = 0) -> bytes:
    """One frame as a PNG no larger than ``max_size`` pixels a side, windowed for viewing."""
    ds = _read_header(path)
    _size(ds)
    if not 0 <= frame < _frames(ds):
        raise Invalid(msg(NO_FRAME, frame=frame + 1))
    try:
        # One frame only: a multi-frame study can be hundreds of MB.
        pixels = _decode(path, frame)
    except MemoryError:
        raise
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
        if pixels.ndim != 2:
            raise Invalid(NO_IMAGE)
        image = Image.fromarray(_to_8bit_gray(pixels, ds, max_size))
    else:
        if pixels.ndim != 3 or pixels.shape[-1] != 3:
            raise Invalid(NO_IMAGE)
        image = Image.fromarray(_to_8bit_color(pixels, ds, max_size))
    del pixels
    image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def read_header(path: Path) -> Dataset:
    """The file's header (no pixels), in bounded memory; ``Invalid`` when unreadable."""
    return _read_header(path)


def frame_count(ds: Dataset) -> int:
    """How many frames the file holds."""
    return _frames(ds)


def decode_frame(path: Path, frame: int) -> NDArray[Any]:
    """One frame as stored, through pydicom's decoders; only ever called in a render worker."""
    return _decode(path, frame)


def rescale(ds: Dataset) -> tuple[float, float]:
    """The modality rescale: slope and intercept (1 and 0 when absent or unreadable)."""
    return _rescale(ds)
