"""Attachments in the browser: a viewer page, inline files for it, DICOM previews, removal.

Uploads go to the JSON API (``POST /api/v1/cases/{id}/attachments``) from ``js/upload.js``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from records.models import Attachment, AttachmentKind
from records.services import attachment_previews as previews
from records.services import attachment_reads as reads
from records.services import attachments as attachments_svc
from records.services import cases as cases_svc

from ..api.attachments import stream_attachment
from ..i18n import gettext
from ..keys import blobs_key, renderer_key, sessions_key
from ..security import require_actor
from .common import flash, parse_id, render, see_other, url

# Types a browser may show inside our page; anything else is only offered as a download.
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})
PREVIEW_TYPES = frozenset(
    {"application/dicom", "image/png", "image/jpeg", "image/gif", "image/webp"}
)
# The inline file lives in a frame of our own viewer page, and runs nothing itself.
INLINE_CSP = (
    "default-src 'none'; img-src 'self' data: blob:; style-src 'unsafe-inline'; "
    "object-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
_frame_csp_key = web.RequestKey("attachment_frame_csp", str)
# The DICOM facts worth showing, in reading order.
DICOM_FIELDS = (
    "modality",
    "study_date",
    "study_description",
    "series_description",
    "body_part",
    "rows",
    "columns",
    "frames",
    "institution",
    "manufacturer",
)


def preview_kind(attachment: Attachment) -> str:
    """How the viewer shows a file: ``image`` (via the preview), ``pdf`` (framed), or ``none``."""
    if attachment.content_type == "application/pdf":
        return "pdf"
    if attachment.content_type in PREVIEW_TYPES:
        return "image"
    return "none"


def _study_date(value: Any) -> Any:
    """DICOM dates (``20040119`` or ISO) as dates, so the page shows them the local way."""
    text = str(value).replace("-", "")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else value
    except ValueError:
        return value


def dicom_facts(attachment: Attachment) -> list[tuple[str, Any]]:
    """The key DICOM metadata present on an attachment, as (key, value) pairs."""
    meta = attachment.meta or {}
    return [
        (key, _study_date(meta[key]) if key == "study_date" else meta[key])
        for key in DICOM_FIELDS
        if meta.get(key) not in (None, "")
    ]


async def attachment_view(request: web.Request) -> web.StreamResponse:
    """A file of a case shown in the page: image, PDF or DICOM image with its metadata."""
    actor = require_actor(request)
    attachment_id = parse_id(request.match_info["id"], reads.NOT_FOUND)
    async with request.app[sessions_key]() as session:
        attachment = await reads.get_attachment(
            session=session, actor=actor, attachment_id=attachment_id
        )
        case = await cases_svc.get_case(session=session, case_id=attachment.case_id, actor=actor)
    kind = preview_kind(attachment)
    context = {
        "attachment": attachment,
        "case": case,
        "preview": kind,
        # Why an image has no preview (too large, or its render failed before), shown instead.
        "preview_note": previews.note(
            blobs=request.app[blobs_key],
            limits=request.app[renderer_key].limits,
            attachment=attachment,
        )
        if kind == "image"
        else None,
        "dicom": dicom_facts(attachment) if attachment.kind == AttachmentKind.dicom else [],
        "can_remove": reads.can_remove(actor, attachment, case),
    }
    return await render(request, "cases/attachment.html", context)


async def attachment_file(request: web.Request) -> web.StreamResponse:
    """The file itself, inline when a browser can show it safely (audited as a download)."""

    def disposition(attachment: Attachment) -> str:
        if attachment.content_type not in INLINE_TYPES:
            return "attachment"
        request[_frame_csp_key] = INLINE_CSP
        return "inline"

    return await stream_attachment(request, disposition=disposition)


async def _allow_framing(request: web.Request, response: web.StreamResponse) -> None:
    """Let our own viewer page frame an inline file; runs after the security headers are set."""
    csp = request.get(_frame_csp_key)
    if csp is not None:
        response.headers["Content-Security-Policy"] = csp
        response.headers["X-Frame-Options"] = "SAMEORIGIN"


async def attachment_preview(request: web.Request) -> web.StreamResponse:
    """A PNG/JPEG the browser can show: a DICOM image rendered, a large photo scaled down."""
    actor = require_actor(request)
    attachment_id = parse_id(request.match_info["id"], reads.NOT_FOUND)
    async with request.app[sessions_key]() as session:
        data, content_type = await previews.preview(
            session=session,
            blobs=request.app[blobs_key],
            renderer=request.app[renderer_key],
            actor=actor,
            attachment_id=attachment_id,
        )
    return web.Response(
        body=data,
        content_type=content_type,
        headers={"Content-Disposition": "inline", "Cache-Control": "private, no-store"},
    )


async def attachment_delete(request: web.Request) -> web.StreamResponse:
    """Remove a file from a case that is still being prepared."""
    actor = require_actor(request)
    attachment_id = parse_id(request.match_info["id"], reads.NOT_FOUND)
    async with request.app[sessions_key]() as session:
        removed = await attachments_svc.delete(
            session=session, blobs=request.app[blobs_key], actor=actor, attachment_id=attachment_id
        )
    response = see_other(url(request, "case", id=str(removed.case_id)))
    flash(request, response, gettext(request, "Đã xóa tệp %(name)s", name=removed.filename))
    return response


def add_routes(app: web.Application) -> None:
    """Register the attachment viewer, its inline file and preview, and removal."""
    # Lists of attachments show why a picture flagged at upload has no thumbnail.
    aiohttp_jinja2.get_env(app).filters["no_preview"] = previews.flagged
    app.router.add_get("/attachments/{id}", attachment_view, name="attachment-view")
    app.router.add_get("/attachments/{id}/file", attachment_file, name="attachment-file")
    app.router.add_get("/attachments/{id}/preview", attachment_preview, name="attachment-preview")
    app.router.add_post("/attachments/{id}/delete", attachment_delete, name="attachment-delete")
    app.on_response_prepare.append(_allow_framing)
