"""What an uploaded file is: a name safe to keep, the kind its bytes allow, the facts in it.

The facts are read from the file's header, never its pixels. A picture whose frame has more
pixels than the render workers may decode is kept in the record but flagged
(``meta["no_preview"] = "too-large"``): it is listed with the reason and never decoded (see
``attachment_previews``).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from PIL import Image

from .. import dicom
from ..errors import Invalid
from ..messages import msg
from ..models import AttachmentKind
from ..render import DEFAULT_MAX_PIXELS
from ..sniff import BY_CONTENT_TYPE, Sniffed

MAX_FILENAME = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED = re.compile(r'[<>:"/\\|?*]')
# What a name's last dotted part must look like to be taken for its extension.
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,10}")
# The flag on the facts of a picture too large to preview.
NO_PREVIEW = "no_preview"
TOO_LARGE = "too-large"


def _visible(ch: str) -> bool:
    # Cc: controls (C0, DEL, C1); Cf: format characters, among them the bidirectional
    # overrides and isolates (U+202A-U+202E, U+2066-U+2069) that make "x\u202egpj.js" read as
    # "xsj.jpg", and the zero-width ones.
    return unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")


def sanitize_filename(
    name: str, *, fallback: str = "tep-dinh-kem", found: Sniffed | None = None
) -> str:
    """A file name safe to store and to send back: no path, no control, bidirectional or
    reserved characters, and (given the sniffed type) the extension of what the bytes are."""
    name = unicodedata.normalize("NFC", name or "")
    # Browsers on Windows send the full path; keep only the last part.
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if _visible(ch))
    name = _RESERVED.sub("_", _CONTROL.sub("", name))
    name = " ".join(name.split()).strip(" .")
    if not name:
        return fallback
    if found is not None:
        name = _with_extension(name, found)
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


def _with_extension(name: str, found: Sniffed) -> str:
    """The name ending in an extension of the sniffed type: a text file named ket-qua.js is
    ket-qua.txt, so no double click runs it; a name without an extension gets the usual one."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem and _EXTENSION.fullmatch(ext):
        if "." + ext.lower() in found.extensions:
            return name
        name = stem.rstrip(" .") or "tep-dinh-kem"
    return name + found.extension


def download_name(filename: str, content_type: str) -> str:
    """The name a stored file is sent under, cleaned again (rows kept before names were)."""
    return sanitize_filename(filename, found=BY_CONTENT_TYPE.get(content_type))


def checked_kind(kind: AttachmentKind, found: Sniffed) -> AttachmentKind:
    """The kind to store: DICOM content is always kind dicom; other kinds must fit the bytes."""
    if found.is_dicom:
        return AttachmentKind.dicom
    if kind == AttachmentKind.dicom:
        problem = msg("Tệp không phải DICOM (nhận diện được: %(kind)s)", kind=msg(found.label))
        raise Invalid(problem, fields={"file": problem})
    if kind == AttachmentKind.recording and not found.is_video:
        problem = msg("Bản ghi hình phải là video MP4 hoặc WebM")
        raise Invalid(problem, fields={"file": problem})
    return kind


def image_meta(path: Path) -> dict[str, Any]:
    """A photo's size from its header, without decoding it; flagged if it declares too much."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                meta: dict[str, Any] = {"width": int(im.width), "height": int(im.height)}
                frames = int(getattr(im, "n_frames", 1) or 1)
                if frames > 1:
                    meta["frames"] = frames
                return meta
    except Image.DecompressionBombError:
        # Pillow will not even report the size of a picture this large: kept, flagged.
        return {NO_PREVIEW: TOO_LARGE}
    except Exception:
        problem = msg("Ảnh bị hỏng, quá lớn hoặc không đọc được")
        raise Invalid(problem, fields={"file": problem}) from None


def frame_size(meta: Mapping[str, Any]) -> tuple[int, int] | None:
    """Width and height of a picture's frames, from the facts read at upload."""
    for w, h in (("columns", "rows"), ("width", "height")):
        width, height = meta.get(w), meta.get(h)
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return None


def flag_oversized(meta: dict[str, Any], *, max_pixels: int) -> dict[str, Any]:
    """The facts read at upload, flagged when a frame has more than ``max_pixels`` pixels."""
    size = frame_size(meta)
    if size is not None and size[0] * size[1] > max_pixels:
        return {**meta, NO_PREVIEW: TOO_LARGE}
    return meta


def extract_meta(
    path: Path, found: Sniffed, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> dict[str, Any]:
    """Facts read from the file's header: DICOM tags, image size, a flag if too large to show."""
    if found.is_dicom:
        return flag_oversized(dicom.read_meta(path), max_pixels=max_pixels)
    if found.is_image:
        return flag_oversized(image_meta(path), max_pixels=max_pixels)
    return {}


def json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    """Facts as the JSON column stores them (dates and other values as text)."""
    out: dict[str, Any] = orjson.loads(orjson.dumps(meta, default=str))
    return out
