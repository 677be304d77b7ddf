"""Attachments: streamed multipart upload, verified (and ranged) download, listing, removal."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Final, Literal
from urllib.parse import quote, unquote

import orjson
from aiohttp import BodyPartReader, web

from records.errors import Invalid, RangeNotSatisfiable, RecordsError, TooLarge
from records.messages import N_, msg, nmsg, one_of
from records.models import Attachment, AttachmentKind, AttachmentPublic
from records.services import attachment_previews as previews
from records.services import attachment_reads as reads
from records.services import attachments as svc
from records.services.attachment_files import download_name
from records.services.attachment_reads import ByteRange, PartChooser

from ..errors import error_body
from ..i18n import translate
from ..keys import blobs_key, config_key, renderer_key
from .common import actor, json, path_uuid, sessions
from .registry import ApiRoutes

log = logging.getLogger(__name__)
routes = ApiRoutes(tag="attachments")

CHUNK = 256 * 1024
MAX_FIELD = 2000
RANGE_REFUSED = N_("Khoảng dữ liệu yêu cầu nằm ngoài kích thước tệp")


def content_disposition(kind: str, filename: str) -> str:
    """A Content-Disposition header safe for any file name (RFC 6266, RFC 5987 ``filename*``)."""
    ascii_name = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\;%' else "_" for ch in filename
    )
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


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
        raise Invalid(msg("Trường dữ liệu quá dài"), fields={part.name or "_": msg("Quá dài")})
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
            msg("Tệp phải gửi dưới dạng multipart/form-data"),
            fields={"file": msg("Trường này là bắt buộc")},
        )
    reader = await request.multipart()
    kind: AttachmentKind | None = None
    description = ""
    created: list[Attachment] = []
    limit = request.app[config_key].max_upload_bytes
    async with sessions(request)() as session:
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise Invalid(msg("Dữ liệu multipart lồng nhau không được hỗ trợ"))
            if part.name == "kind":
                value = await _text(part)
                try:
                    kind = AttachmentKind(value)
                except ValueError:
                    raise Invalid(
                        msg("Loại tài liệu không hợp lệ"),
                        fields={"kind": one_of(AttachmentKind)},
                    ) from None
            elif part.name == "description":
                description = await _text(part)
            elif part.name == "file":
                if len(created) >= request.app[config_key].max_files_per_request:
                    most = request.app[config_key].max_files_per_request
                    raise TooLarge(
                        nmsg(
                            "Mỗi lần gửi tối đa %(num)d tệp", "Mỗi lần gửi tối đa %(num)d tệp", most
                        )
                    )
                if kind is None:
                    raise Invalid(
                        msg("Cần chọn loại tài liệu trước khi gửi tệp"),
                        fields={"kind": msg("Trường này là bắt buộc")},
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
                    max_pixels=request.app[renderer_key].limits.max_pixels,
                )
                created.append(attachment)
            else:
                await part.release()
    if not created:
        raise Invalid(
            msg("Chưa có tệp nào được gửi"), fields={"file": msg("Trường này là bắt buộc")}
        )
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
        items = await reads.list_for_case(
            session=session,
            actor=actor(request),
            case_id=path_uuid(request),
        )
    out = [AttachmentPublic.model_validate(a, from_attributes=True) for a in items]
    return json({"items": out, "total": len(out), "limit": len(out), "offset": 0})


UNSATISFIABLE: Final = "unsatisfiable"
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d{0,19})\s*-\s*(\d{0,19})\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> ByteRange | Literal["unsatisfiable"] | None:
    """The single range a ``Range`` header asks of a file of ``size`` bytes (RFC 9110 §14.2).

    None means "send the whole file": no header, another unit, a malformed value or several
    ranges (which a server may answer in full). UNSATISFIABLE when the range lies past the end.
    """
    if header is None:
        return None
    found = _RANGE_RE.match(header)
    if found is None:
        return None
    first, last = found.group(1), found.group(2)
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return ByteRange(start, min(end, size - 1))


def _wanted_range(
    request: web.Request, size: int, etag: str
) -> ByteRange | Literal["unsatisfiable"] | None:
    if_range = request.headers.get("If-Range")
    # A client resuming an older copy gets the whole current file rather than a mix of two.
    if if_range is not None and if_range.strip() != etag:
        return None
    return parse_range(request.headers.get("Range"), size)


async def _send(
    request: web.Request,
    resp: web.StreamResponse,
    attachment_id: uuid.UUID,
    chunks: AsyncIterator[bytes],
) -> web.StreamResponse:
    await resp.prepare(request)
    try:
        async for chunk in chunks:
            await resp.write(chunk)
    except RecordsError:
        # The stored bytes no longer match their hash; the status line is already sent, so
        # the only honest answer left is to cut the connection instead of finishing the file.
        log.error("attachment %s failed its integrity check", attachment_id)
        resp.force_close()
        if request.transport is not None:
            request.transport.close()
        return resp
    await resp.write_eof()
    return resp


def _part_of(request: web.Request) -> PartChooser:
    """The part of a file the request's ``Range`` asks for, once the file is known."""

    def choose(attachment: Attachment) -> ByteRange | None:
        wanted = _wanted_range(request, attachment.size, etag_of(attachment))
        if wanted == UNSATISFIABLE:
            raise RangeNotSatisfiable(msg(RANGE_REFUSED), size=attachment.size)
        return wanted

    return choose


def etag_of(attachment: Attachment) -> str:
    """The strong entity tag of a file: its content hash."""
    return f'"{attachment.sha256}"'


def _always_download(attachment: Attachment) -> str:
    return "attachment"


async def stream_attachment(
    request: web.Request, *, disposition: Callable[[Attachment], str] = _always_download
) -> web.StreamResponse:
    """Send an attachment: the whole file hash-checked as it streams, or one ``Range`` of it.

    Ranges are what a ``<video>`` needs to seek. Access, the file's integrity and the audit
    are the records' one read (``attachment_reads.open_download``); ``disposition`` says,
    per file, whether a browser shows it (``inline``) or saves it (``attachment``).
    """
    async with sessions(request)() as session:
        try:
            download = await reads.open_download(
                session=session,
                blobs=request.app[blobs_key],
                actor=actor(request),
                attachment_id=path_uuid(request),
                part=_part_of(request),
            )
        except RangeNotSatisfiable as exc:
            return web.Response(
                status=416,
                body=orjson.dumps(error_body(exc.code, translate(request, exc.text))),
                content_type="application/json",
                headers={"Content-Range": f"bytes */{exc.size}", "Accept-Ranges": "bytes"},
            )
    attachment, part = download.attachment, download.part
    headers = {
        "Content-Type": attachment.content_type,
        "Content-Disposition": content_disposition(
            disposition(attachment), download_name(attachment.filename, attachment.content_type)
        ),
        "ETag": etag_of(attachment),
        "Accept-Ranges": "bytes",
    }
    if part is None:
        headers["Content-Length"] = str(attachment.size)
        full = web.StreamResponse(headers=headers)
        return await _send(request, full, attachment.id, download.chunks)
    headers["Content-Length"] = str(part.length)
    headers["Content-Range"] = f"bytes {part.start}-{part.end}/{attachment.size}"
    partial = web.StreamResponse(status=206, headers=headers)
    return await _send(request, partial, attachment.id, download.chunks)


@routes.route(
    "GET",
    "/api/v1/attachments/{id}",
    name="api-attachment",
    summary=(
        "Download an attachment (hash verified, audited); one `Range: bytes=…` gives 206, "
        "a range past the end 416"
    ),
    response_content="application/octet-stream",
    errors=(400, 401, 404, 416),
)
async def download(request: web.Request) -> web.StreamResponse:
    """Download an attachment, whole or one byte range of it."""
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
    summary=(
        "An image the browser can show: DICOM rendered to PNG, large photos scaled down; "
        "400 when the file has none (flagged as too large at upload, or its render failed), "
        "429 while every render worker is busy"
    ),
    response_content="image/png",
    errors=(400, 401, 404, 429),
)
async def preview(request: web.Request) -> web.Response:
    """A preview image of an attachment."""
    async with sessions(request)() as session:
        data, content_type = await previews.preview(
            session=session,
            blobs=request.app[blobs_key],
            renderer=request.app[renderer_key],
            actor=actor(request),
            attachment_id=path_uuid(request),
        )
    return web.Response(body=data, content_type=content_type)
