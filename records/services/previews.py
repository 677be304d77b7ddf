"""Previews of attachments: which files get none, and the cache of images and of failures.

Pixels are decoded only in render workers (``records.render``), never in the server process.
A picture whose frame has more than the configured number of pixels is kept in the record but
flagged at upload (``meta["no_preview"] = "too-large"``): it is listed with the reason and never
decoded. Everything else is rendered once per content: the blob store's preview cache keeps,
under the file's SHA-256, the image made from it, or why none could be made (refused, out of
memory, out of time, a worker that died), so a failure is not tried again on every view. A
failure is remembered with the limits it met (``RenderLimits.fingerprint``); after the limits
change it is tried once more.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from PIL import Image

from ..blobs import BlobStore
from ..errors import Invalid
from ..models import Attachment
from ..render import Job, PreviewRefused, Renderer, RenderError, RenderFailed, RenderLimits
from ..render.jobs import TOO_LARGE as TOO_LARGE_MESSAGE
from ..render.jobs import TOO_MANY_PIXELS, DicomPreview, ImageThumbnail

NO_PREVIEW = "no_preview"
TOO_LARGE = "too-large"
IMAGE_UNREADABLE = "Ảnh bị hỏng, quá lớn hoặc không đọc được"
NOTHING_TO_SHOW = "Tệp này không có bản xem trước"
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg"}
_FAILURE = "failed.json"
_ERRORS: dict[str, type[RenderError]] = {
    PreviewRefused.code: PreviewRefused,
    RenderFailed.code: RenderFailed,
}


@dataclass(frozen=True, slots=True)
class Note:
    """Why a file has no preview: a message (Vietnamese source text) and its parameters."""

    message: str
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The message with its parameters filled in."""
        return self.message % dict(self.params) if self.params else self.message


def has_preview(content_type: str) -> bool:
    """Whether files of this type are shown through a rendered preview."""
    return content_type == "application/dicom" or content_type.startswith("image/")


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
        raise Invalid(IMAGE_UNREADABLE, fields={"file": IMAGE_UNREADABLE}) from None


def _size(meta: dict[str, Any]) -> tuple[int, int] | None:
    for w, h in (("columns", "rows"), ("width", "height")):
        width, height = meta.get(w), meta.get(h)
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return None


def flag_oversized(meta: dict[str, Any], *, max_pixels: int) -> dict[str, Any]:
    """The facts read at upload, flagged when a frame has more than ``max_pixels`` pixels."""
    size = _size(meta)
    if size is not None and size[0] * size[1] > max_pixels:
        return {**meta, NO_PREVIEW: TOO_LARGE}
    return meta


def flagged(attachment: Attachment) -> Note | None:
    """Why the attachment was flagged at upload as having no preview, or None."""
    meta = attachment.meta or {}
    if meta.get(NO_PREVIEW) != TOO_LARGE:
        return None
    size = _size(meta)
    if size is None:
        return Note(TOO_LARGE_MESSAGE)
    return Note(TOO_MANY_PIXELS, {"width": size[0], "height": size[1]})


def _remembered(blobs: BlobStore, sha256: str, limits: RenderLimits) -> RenderError | None:
    raw = blobs.read_preview(sha256, _FAILURE)
    if raw is None:
        return None
    try:
        failure = orjson.loads(raw)
        if failure["fingerprint"] != limits.fingerprint:
            return None
        return _ERRORS[failure["code"]](str(failure["message"]))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


def _remember(blobs: BlobStore, sha256: str, limits: RenderLimits, exc: RenderError) -> None:
    failure = {"fingerprint": limits.fingerprint, "code": exc.code, "message": exc.message}
    blobs.write_preview(sha256, _FAILURE, orjson.dumps(failure))


def note(*, blobs: BlobStore, limits: RenderLimits, attachment: Attachment) -> Note | None:
    """Why the attachment has no preview (flagged, or a remembered failure), or None."""
    reason = flagged(attachment)
    if reason is not None:
        return reason
    failure = _remembered(blobs, attachment.sha256, limits)
    return Note(failure.message) if failure is not None else None


def _job(path: Path, content_type: str, limits: RenderLimits) -> Job:
    if content_type == "application/dicom":
        return DicomPreview(path, max_pixels=limits.max_pixels)
    return ImageThumbnail(path, content_type, max_pixels=limits.max_pixels)


def cached(
    blobs: BlobStore, attachment: Attachment, limits: RenderLimits
) -> tuple[bytes, str] | None:
    """The preview made earlier from this content, None if none was; raises a known failure."""
    reason = flagged(attachment)
    if reason is not None:
        raise PreviewRefused(reason.text)
    for media_type, ext in _EXTENSIONS.items():
        data = blobs.read_preview(attachment.sha256, ext)
        if data is not None:
            return data, media_type
    failure = _remembered(blobs, attachment.sha256, limits)
    if failure is not None:
        raise failure
    return None


async def render(
    *, blobs: BlobStore, renderer: Renderer, attachment: Attachment
) -> tuple[bytes, str]:
    """Render the preview of a verified blob in a worker, and cache the image or the failure."""
    limits = renderer.limits
    job = _job(blobs.path_for(attachment.sha256), attachment.content_type, limits)
    try:
        done = await renderer.run(job)
    except RenderError as exc:
        _remember(blobs, attachment.sha256, limits, exc)
        raise
    blobs.write_preview(attachment.sha256, _EXTENSIONS[done.media_type], done.data)
    return done.data, done.media_type
