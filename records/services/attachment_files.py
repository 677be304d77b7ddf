"""What an uploaded file is: a name safe to keep, the kind its bytes allow, the facts in it."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import orjson
from PIL import Image

from .. import dicom
from ..errors import Invalid
from ..messages import msg
from ..models import AttachmentKind
from ..sniff import Sniffed

MAX_FILENAME = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED = re.compile(r'[<>:"/\\|?*]')


def sanitize_filename(name: str, *, fallback: str = "tep-dinh-kem") -> str:
    """A file name safe to store and to send back: no path, no control or reserved characters."""
    name = unicodedata.normalize("NFC", name or "")
    # Browsers on Windows send the full path; keep only the last part.
    name = re.split(r"[\\/]", name)[-1]
    name = _RESERVED.sub("_", _CONTROL.sub("", name))
    name = " ".join(name.split()).strip(" .")
    if not name:
        return fallback
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


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


def _image_meta(path: Path) -> dict[str, Any]:
    try:
        with Image.open(path) as im:
            meta: dict[str, Any] = {"width": int(im.width), "height": int(im.height)}
            frames = int(getattr(im, "n_frames", 1) or 1)
            if frames > 1:
                meta["frames"] = frames
            return meta
    except Exception:
        problem = msg("Ảnh bị hỏng, quá lớn hoặc không đọc được")
        raise Invalid(problem, fields={"file": problem}) from None


def extract_meta(path: Path, found: Sniffed) -> dict[str, Any]:
    """Facts read from the file itself: DICOM tags, image size."""
    if found.is_dicom:
        return dicom.read_meta(path)
    if found.is_image:
        return _image_meta(path)
    return {}


def json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    """Facts as the JSON column stores them (dates and other values as text)."""
    out: dict[str, Any] = orjson.loads(orjson.dumps(meta, default=str))
    return out
