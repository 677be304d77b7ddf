"""Previews of attachments: the image a browser can show, which files get none, and why.

Pixels are decoded only in render workers (``records.render``), never in the server process.
A picture flagged at upload as too large (``attachment_files``) is listed with the reason and
never decoded. Everything else is rendered once per content: the blob store's preview cache
keeps, under the file's SHA-256, the image made from it, or why none could be made (refused,
out of memory, out of time, a worker that died), so a failure is not tried again on every
view. A failure is remembered with the limits it met (``RenderLimits.fingerprint``); after the
limits change it is tried once more. Reasons are records messages, translated at the edges.

``preview`` reads the file as every read does: access checked (``attachment_reads``), the
file verified before it is decoded, the view audited.
"""

from __future__ import annotations

import uuid

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..actor import Actor
from ..blobs import BlobStore
from ..errors import Invalid
from ..messages import N_, Message, msg
from ..models import Attachment
from ..render import Job, PreviewRefused, Renderer, RenderError, RenderFailed, RenderLimits
from ..render.base import message_from_json, message_to_json
from ..render.jobs import TOO_LARGE as TOO_LARGE_MESSAGE
from ..render.jobs import DicomPreview, ImageThumbnail, too_large_message
from .attachment_files import NO_PREVIEW, TOO_LARGE, frame_size
from .attachment_reads import readable

NOTHING_TO_SHOW = N_("Tệp này không có bản xem trước")
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg"}
_FAILURE = "failed.json"
_ERRORS: dict[str, type[RenderError]] = {
    PreviewRefused.code: PreviewRefused,
    RenderFailed.code: RenderFailed,
}


def has_preview(content_type: str) -> bool:
    """Whether files of this type are shown through a rendered preview."""
    return content_type == "application/dicom" or content_type.startswith("image/")


def flagged(attachment: Attachment) -> Message | None:
    """Why the attachment was flagged at upload as having no preview, or None."""
    meta = attachment.meta or {}
    if meta.get(NO_PREVIEW) != TOO_LARGE:
        return None
    size = frame_size(meta)
    return msg(TOO_LARGE_MESSAGE) if size is None else too_large_message(*size)


def _remembered(blobs: BlobStore, sha256: str, limits: RenderLimits) -> RenderError | None:
    raw = blobs.read_preview(sha256, _FAILURE)
    if raw is None:
        return None
    try:
        failure = orjson.loads(raw)
        message = message_from_json(failure["message"])
        if failure["fingerprint"] != limits.fingerprint or message is None:
            return None
        return _ERRORS[failure["code"]](message)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


def remember(blobs: BlobStore, sha256: str, limits: RenderLimits, exc: RenderError) -> None:
    """Keep why this content could not be rendered, so it is not tried again on every view."""
    failure = {
        "fingerprint": limits.fingerprint,
        "code": exc.code,
        "message": message_to_json(exc.text),
    }
    blobs.write_preview(sha256, _FAILURE, orjson.dumps(failure))


def note(*, blobs: BlobStore, limits: RenderLimits, attachment: Attachment) -> Message | None:
    """Why the attachment has no preview (flagged, or a remembered failure), or None."""
    reason = flagged(attachment)
    if reason is not None:
        return reason
    failure = _remembered(blobs, attachment.sha256, limits)
    return failure.text if failure is not None else None


def _job(blobs: BlobStore, attachment: Attachment, limits: RenderLimits) -> Job:
    path = blobs.path_for(attachment.sha256)
    if attachment.content_type == "application/dicom":
        return DicomPreview(path, max_pixels=limits.max_pixels)
    return ImageThumbnail(path, attachment.content_type, max_pixels=limits.max_pixels)


def cached(
    blobs: BlobStore, attachment: Attachment, limits: RenderLimits
) -> tuple[bytes, str] | None:
    """The preview made earlier from this content, None if none was; raises a known failure."""
    reason = flagged(attachment)
    if reason is not None:
        raise PreviewRefused(reason)
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
    try:
        done = await renderer.run(_job(blobs, attachment, limits))
    except RenderError as exc:
        remember(blobs, attachment.sha256, limits, exc)
        raise
    blobs.write_preview(attachment.sha256, _EXTENSIONS[done.media_type], done.data)
    return done.data, done.media_type


async def preview(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    renderer: Renderer,
    actor: Actor,
    attachment_id: uuid.UUID,
) -> tuple[bytes, str]:
    """An image the browser can show: DICOM rendered to PNG, large photos scaled down.

    Rendered once per content in a render worker; a file flagged at upload, or one whose
    render failed before, is refused at once (``RenderError``) without decoding anything.
    """
    attachment, case = await readable(session, actor=actor, attachment_id=attachment_id)
    if not has_preview(attachment.content_type):
        raise Invalid(msg(NOTHING_TO_SHOW))
    shown = cached(blobs, attachment, renderer.limits)
    if shown is None:
        await blobs.verify(attachment.sha256, size=attachment.size)
        shown = await render(blobs=blobs, renderer=renderer, attachment=attachment)
    await audit.record_now(
        session,
        actor=actor,
        action="view",
        object_type="attachment",
        object_id=attachment.id,
        patient_id=case.patient_id,
        detail={"preview": True},
    )
    return shown
