"""Work a render worker does: picklable job dataclasses, each run in the worker process.

A job names a file by its path and carries its own limits; ``run`` happens in the worker,
under its memory limit, and answers a ``Rendered`` (bytes, their media type, a few facts) or
raises ``Invalid`` to refuse the file with a message for people. New kinds of imaging work
(a 16-bit slice for a viewer, a series of thumbnails) are new jobs; the pool stays the same.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .. import deidentify, dicom, dicom_pixels
from ..errors import Invalid
from ..messages import N_, Message, msg
from .base import DEFAULT_MAX_PIXELS, PREVIEW_SIZE, Job, Rendered

IMAGE_UNREADABLE = N_("Ảnh bị hỏng hoặc không đọc được")
NOT_DEIDENTIFIABLE = N_("Không đọc được tệp DICOM này để tạo bản ẩn danh")
TOO_LARGE = N_(
    "Ảnh quá lớn để máy chủ tạo bản xem trước. "
    "Tệp vẫn được lưu đầy đủ trong hồ sơ; hãy tải về để xem bằng phần mềm chuyên dụng."
)
TOO_MANY_PIXELS = N_(
    "Ảnh %(width)s × %(height)s điểm ảnh quá lớn để máy chủ tạo bản xem trước. "
    "Tệp vẫn được lưu đầy đủ trong hồ sơ; hãy tải về để xem bằng phần mềm chuyên dụng."
)


def too_large_message(width: int, height: int) -> Message:
    """Why a picture of this size gets no preview."""
    return msg(TOO_MANY_PIXELS, width=width, height=height)


@dataclass(frozen=True, slots=True)
class DicomPreview(Job):
    """One frame of a DICOM file as a PNG no larger than ``max_size`` a side."""

    path: Path
    frame: int = 0
    max_size: int = PREVIEW_SIZE
    max_pixels: int = DEFAULT_MAX_PIXELS

    def run(self) -> Rendered:
        """Check the frame's size, then decode and window it (``records.dicom.render_png``)."""
        width, height = dicom.frame_size(self.path)
        if width * height > self.max_pixels:
            raise Invalid(too_large_message(width, height))
        png = dicom.render_png(self.path, max_size=self.max_size, frame=self.frame)
        return Rendered(png, "image/png")


@dataclass(frozen=True, slots=True)
class ImageThumbnail(Job):
    """A photo scaled down to ``max_size`` a side: JPEG for photographs, PNG otherwise."""

    path: Path
    content_type: str
    max_size: int = PREVIEW_SIZE
    max_pixels: int = DEFAULT_MAX_PIXELS

    def run(self) -> Rendered:
        """Decode the picture (JPEG at a reduced scale where it can) and scale it down."""
        try:
            with Image.open(self.path) as opened:
                if opened.width * opened.height > self.max_pixels:
                    raise Invalid(too_large_message(opened.width, opened.height))
                opened.seek(0)
                im: Image.Image = opened
                im.thumbnail((self.max_size, self.max_size), Image.Resampling.LANCZOS)
                return _encode(im, self.content_type)
        except (Invalid, MemoryError):
            raise
        except Image.DecompressionBombError:
            raise Invalid(msg(TOO_LARGE)) from None
        except Exception:
            raise Invalid(msg(IMAGE_UNREADABLE)) from None


def _encode(im: Image.Image, content_type: str) -> Rendered:
    buf = io.BytesIO()
    if content_type in ("image/jpeg", "image/webp") and im.mode in ("RGB", "L"):
        im.save(buf, format="JPEG", quality=85)
        return Rendered(buf.getvalue(), "image/jpeg")
    if im.mode not in ("RGB", "RGBA", "L", "LA"):
        im = im.convert("RGBA")
    im.save(buf, format="PNG")
    return Rendered(buf.getvalue(), "image/png")


@dataclass(frozen=True, slots=True)
class DicomSlice(Job):
    """One frame of a DICOM file as the viewer's stored integers (``records.dicom_pixels``)."""

    path: Path
    frame: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_size: int = dicom_pixels.MAX_SIZE

    def run(self) -> Rendered:
        """Check the frame's size, then decode and pack it."""
        width, height = dicom.frame_size(self.path)
        if width * height > self.max_pixels:
            raise Invalid(too_large_message(width, height))
        data, facts = dicom_pixels.pack(self.path, frame=self.frame, max_size=self.max_size)
        return Rendered(data, "application/vnd.telemed.pixels+gzip", facts)


@dataclass(frozen=True, slots=True)
class DicomDeidentified(Job):
    """A de-identified copy of a DICOM file (``records.deidentify``); the pixels untouched."""

    path: Path
    seed: str

    def run(self) -> Rendered:
        """Read the header, replace or remove what identifies, write the copy."""
        try:
            data, burned = deidentify.deidentify(self.path, seed=self.seed)
        except Exception:
            raise Invalid(msg(NOT_DEIDENTIFIABLE)) from None
        return Rendered(data, "application/dicom", {"burned_in": burned})
