"""Attachments: streamed multipart upload, verified download, listing and removal."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, web

from records.errors import Invalid, RecordsError
from records.models import AttachmentKind, AttachmentPublic
from records.services import attachments as svc

from ..keys import blobs_key, config_key
from .common import actor, followup_days, json, path_uuid, sessions
from .registry import ApiRoutes

log = logging.getLogger(__name__)
routes = ApiRoutes(tag="attachments")

CHUNK = 256 * 1024
MAX_FIELD = 2000


def content_disposition(kind: str, filename: str) -> str:
    """A Content-Disposition header safe for any file name (RFC 6266 / 5987)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def part_filename(part: BodyPartReader) -> str:
    """The file name a client sent; percent-escapes decoded (some clients escape non-ASCII)."""
    name = part.filename or ""
    if "%" in name:
        try:
            name = unquote(name, errors="strict")
        except UnicodeDecodeError:
            pass
    return name or "tep-dinh-kem"


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def _text(part: BodyPartReader) -> str:
    raw = await part.read_chunk(MAX_FIELD + 1)
    if len(raw) > MAX_FIELD:
        raise Invalid("Trường dữ liệu quá dài", fields={part.name or "_": "Quá dài"})
    return raw.decode("utf-8", "replace").strip()


@routes.route(
    "POST",
    "/api/v1/cases/{id}/attachments",
    name="api-case-attachments-upload",
    summary="Upload one or more files (multipart: fields `kind`, `description`, then `file` parts)",
    request_content="multipart/form-data",
    response=AttachmentPublic,
    many=True,
    status=201,
    errors=(400, 401, 403, 404, 409, 413),
)
async def upload(request: web.Request) -> web.Response:
    """Stream uploaded files into the store and attach them to the case."""
    case_id = path_uuid(request)
    who = actor(request)
    if not request.content_type.startswith("multipart/"):
        raise Invalid(
            "Tệp phải gửi dưới dạng multipart/form-data",
            fields={"file": "Trường này là bắt buộc"},
        )
    reader = await request.multipart()
    kind: AttachmentKind | None = None
    description = ""
    created = []
    limit = request.app[config_key].max_upload_bytes
    async with sessions(request)() as session:
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise Invalid("Dữ liệu multipart lồng nhau không được hỗ trợ")
            if part.name == "kind":
                value = await _text(part)
                try:
                    kind = AttachmentKind(value)
                except ValueError:
                    raise Invalid(
                        "Loại tài liệu không hợp lệ",
                        fields={"kind": "Chọn một trong: " + ", ".join(AttachmentKind)},
                    ) from None
            elif part.name == "description":
                description = await _text(part)
            elif part.name == "file":
                if kind is None:
                    raise Invalid(
                        "Cần chọn loại tài liệu trước khi gửi tệp",
                        fields={"kind": "Trường này là bắt buộc"},
                    )
                attachment = await svc.upload(
                    session=session,
                    blobs=request.app[blobs_key],
                    actor=who,
                    case_id=case_id,
                    kind=kind,
                    filename=part_filename(part),
                    chunks=_part_chunks(part),
                    max_bytes=limit,
                    description=description,
                )
                created.append(attachment)
            else:
                await part.release()
    if not created:
        raise Invalid("Chưa có tệp nào được gửi", fields={"file": "Trường này là bắt buộc"})
    items = [AttachmentPublic.model_validate(a, from_attributes=True) for a in created]
    return json({"items": items, "total": len(items), "limit": len(items), "offset": 0}, status=201)


@routes.route(
    "GET",
    "/api/v1/cases/{id}/attachments",
    name="api-case-attachments",
    summary="List a case's attachments",
    response=AttachmentPublic,
    many=True,
)
async def list_attachments(request: web.Request) -> web.Response:
    """List a case's attachments."""
    async with sessions(request)() as session:
        items = await svc.list_for_case(
            session=session,
            actor=actor(request),
            case_id=path_uuid(request),
            followup_days=followup_days(request),
        )
    out = [AttachmentPublic.model_validate(a, from_attributes=True) for a in items]
    return json({"items": out, "total": len(out), "limit": len(out), "offset": 0})


async def stream_attachment(
    request: web.Request, *, disposition: str = "attachment"
) -> web.StreamResponse:
    """Send an attachment's verified bytes (audited as a download)."""
    async with sessions(request)() as session:
        attachment, chunks = await svc.open_download(
            session=session,
            blobs=request.app[blobs_key],
            actor=actor(request),
            attachment_id=path_uuid(request),
            followup_days=followup_days(request),
        )
    resp = web.StreamResponse(
        headers={
            "Content-Type": attachment.content_type,
            "Content-Disposition": content_disposition(disposition, attachment.filename),
            "Content-Length": str(attachment.size),
            "ETag": f'"{attachment.sha256}"',
        }
    )
    await resp.prepare(request)
    try:
        async for chunk in chunks:
            await resp.write(chunk)
    except RecordsError:
        # The stored bytes no longer match their hash; the status line is already sent, so
        # the only honest answer left is to cut the connection instead of finishing the file.
        log.error("attachment %s failed its integrity check", attachment.id)
        resp.force_close()
        if request.transport is not None:
            request.transport.close()
        return resp
    await resp.write_eof()
    return resp


@routes.route(
    "GET",
    "/api/v1/attachments/{id}",
    name="api-attachment",
    summary="Download an attachment (hash verified, audited)",
    response_content="application/octet-stream",
)
async def download(request: web.Request) -> web.StreamResponse:
    """Download an attachment."""
    return await stream_attachment(request)


@routes.route(
    "DELETE",
    "/api/v1/attachments/{id}",
    name="api-attachment-delete",
    summary="Remove an attachment from a case that is still being prepared",
    status=204,
    errors=(401, 403, 404, 409),
)
async def delete(request: web.Request) -> web.Response:
    """Remove an attachment."""
    async with sessions(request)() as session:
        await svc.delete(
            session=session,
            blobs=request.app[blobs_key],
            actor=actor(request),
            attachment_id=path_uuid(request),
        )
    return web.Response(status=204)


@routes.route(
    "GET",
    "/api/v1/attachments/{id}/preview",
    name="api-attachment-preview",
    summary="An image the browser can show: DICOM rendered to PNG, large photos scaled down",
    response_content="image/png",
)
async def preview(request: web.Request) -> web.Response:
    """A preview image of an attachment."""
    async with sessions(request)() as session:
        data, content_type = await svc.preview(
            session=session,
            blobs=request.app[blobs_key],
            actor=actor(request),
            attachment_id=path_uuid(request),
            followup_days=followup_days(request),
        )
    return web.Response(body=data, content_type=content_type)
