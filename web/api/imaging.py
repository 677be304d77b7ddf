"""Imaging: a ZIP of a study uploaded in one go, a case's studies, a study, a slice's pixels."""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web

from records import dicom_pixels
from records.errors import Invalid, NotFound
from records.imaging import Series, Slice, Study
from records.messages import msg
from records.models import AttachmentPublic
from records.services import deidentified as deidentified_svc
from records.services import imaging as svc
from records.services.imaging_zip import upload_zip

from ..i18n import translate
from ..keys import blobs_key, config_key, renderer_key
from .attachments import _part_chunks, _text, content_disposition
from .common import actor, json, path_uuid, query_enum, sessions
from .registry import ApiRoutes, Param

routes = ApiRoutes(tag="imaging")

# A packed frame never changes (it is named by the file's hash), so browsers may keep it.
PIXELS_CACHE = "private, max-age=31536000, immutable"
_TRUE = frozenset({"1", "true", "yes", "on"})


def _frame(request: web.Request) -> int:
    raw = request.match_info.get("frame", "")
    if not raw.isdigit() or len(raw) > 6:
        raise NotFound(msg(svc.NOT_FOUND))
    return int(raw)


def _packed(rows: int | None, columns: int | None, max_size: int) -> list[int] | None:
    """[columns, rows] of a packed frame of a series, None when its size is not known."""
    if not rows or not columns:
        return None
    height, width = dicom_pixels.packed_size(rows, columns, max_size)
    return [width, height]


def slice_json(request: web.Request, s: Slice) -> dict[str, Any]:
    """One slice as the viewer reads it."""
    return {
        "attachment_id": str(s.attachment_id),
        "frame": s.frame,
        "instance_number": s.instance_number,
        "position": list(s.position) if s.position else None,
        "location": s.location,
        "pixels": str(
            request.app.router["api-imaging-pixels"].url_for(
                id=str(s.attachment_id), frame=str(s.frame)
            )
        ),
    }


def series_json(request: web.Request, series: Series) -> dict[str, Any]:
    """One series with its slices in order and the facts the viewer needs."""
    first = (series.attachments[0].meta or {}) if series.attachments else {}
    thumb = series.thumbnail
    return {
        "uid": series.uid,
        "number": series.number,
        "modality": series.modality,
        "description": series.description,
        "rows": series.rows,
        "columns": series.columns,
        # The size of a packed frame, and of its first pass (`?size=first`), when known.
        "frame_size": _packed(series.rows, series.columns, dicom_pixels.MAX_SIZE),
        "first_pass_size": _packed(series.rows, series.columns, dicom_pixels.FIRST_PASS_SIZE),
        "pixel_spacing": list(series.pixel_spacing) if series.pixel_spacing else None,
        "orientation": list(series.orientation) if series.orientation else None,
        "window": first.get("window"),
        "photometric": first.get("photometric"),
        "transfer_syntax": first.get("transfer_syntax"),
        "thumbnail": str(
            request.app.router["api-attachment-preview"].url_for(id=str(thumb.attachment_id))
        )
        if thumb
        else None,
        "slices": [slice_json(request, s) for s in series.slices],
    }


def study_json(request: web.Request, study: Study, *, full: bool) -> dict[str, Any]:
    """A study; with ``full``, every series' slices too."""
    out: dict[str, Any] = {
        "id": str(study.id),
        "uid": study.uid,
        "modality": study.modality,
        "body_part": study.body_part,
        "study_date": study.study_date,
        "description": study.description,
        "slice_count": study.slice_count,
    }
    if full:
        out["series"] = [series_json(request, s) for s in study.series]
    else:
        out["series"] = [
            {
                "uid": s.uid,
                "number": s.number,
                "description": s.description,
                "slices": len(s.slices),
            }
            for s in study.series
        ]
    return out


@routes.route(
    "POST",
    "/api/v1/cases/{id}/attachments/zip",
    name="api-case-attachments-zip",
    summary=(
        "Upload a ZIP of DICOM files (multipart: `confirm_identity`, `description`, then one "
        "`file`); each DICOM file inside becomes an attachment, other entries are listed as "
        "skipped; 409 `identity-mismatch` when the files name another patient"
    ),
    request_content="multipart/form-data",
    status=201,
    errors=(400, 401, 403, 404, 409, 413),
)
async def upload_zip_handler(request: web.Request) -> web.Response:
    """Unpack a ZIP of a study into the case's attachments."""
    case_id = path_uuid(request)
    who = actor(request)
    if not request.content_type.startswith("multipart/"):
        raise Invalid(msg("Tệp phải gửi dưới dạng multipart/form-data"))
    reader = await request.multipart()
    confirm = False
    description = ""
    result = None
    limit = request.app[config_key].max_upload_bytes
    async with sessions(request)() as session:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise Invalid(msg("Dữ liệu multipart lồng nhau không được hỗ trợ"))
            if part.name == "confirm_identity":
                confirm = (await _text(part)).lower() in _TRUE
            elif part.name == "description":
                description = await _text(part)
            elif part.name == "file" and result is None:
                result = await upload_zip(
                    session=session,
                    blobs=request.app[blobs_key],
                    actor=who,
                    case_id=case_id,
                    chunks=_part_chunks(part),
                    max_bytes=limit,
                    description=description,
                    max_pixels=request.app[renderer_key].limits.max_pixels,
                    confirm_identity=confirm,
                )
            else:
                await part.release()
    if result is None:
        raise Invalid(
            msg("Chưa có tệp nào được gửi"), fields={"file": msg("Trường này là bắt buộc")}
        )
    items = [AttachmentPublic.model_validate(a, from_attributes=True) for a in result.created]
    skipped = [{"name": name, "reason": translate(request, why)} for name, why in result.skipped]
    return json({"items": items, "total": len(items), "skipped": skipped}, status=201)


@routes.route(
    "GET",
    "/api/v1/cases/{id}/studies",
    name="api-case-studies",
    summary="A case's imaging studies, newest first, with their series and slice counts",
)
async def list_studies(request: web.Request) -> web.Response:
    """The studies of a case."""
    async with sessions(request)() as session:
        studies = await svc.studies_for_case(
            session=session, actor=actor(request), case_id=path_uuid(request)
        )
    items = [study_json(request, s, full=False) for s in studies]
    return json({"items": items, "total": len(items)})


@routes.route(
    "GET",
    "/api/v1/cases/{id}/studies/{study}",
    name="api-case-study",
    summary="One study for the viewer: series in order, each slice's position and pixel URL",
)
async def get_study(request: web.Request) -> web.Response:
    """One study, audited as viewed."""
    async with sessions(request)() as session:
        study = await svc.get_study(
            session=session,
            actor=actor(request),
            case_id=path_uuid(request),
            study=path_uuid(request, "study"),
        )
    return json(study_json(request, study, full=True))


@routes.route(
    "GET",
    "/api/v1/attachments/{id}/frames/{frame}",
    name="api-imaging-pixels",
    summary=(
        "One frame's stored values for the viewer's canvas: a 24-byte head and 16-bit samples, "
        "gzip-encoded (see docs/imaging.md); cached for good, by ETag. `size=first`: the "
        "first pass, averaged down to about 256 a side, to show while the full frame arrives"
    ),
    query=(Param("size", "full (default) or first", enum=("full", "first")),),
    response_content="application/vnd.telemed.pixels",
    errors=(400, 401, 404, 429),
)
async def pixels(request: web.Request) -> web.Response:
    """A frame's packed pixels."""
    attachment_id = path_uuid(request)
    frame = _frame(request)
    first_pass = query_enum(request, "size", ("full", "first")) == "first"
    async with sessions(request)() as session:
        found = await svc.slice_pixels(
            session=session,
            blobs=request.app[blobs_key],
            renderer=request.app[renderer_key],
            actor=actor(request),
            attachment_id=attachment_id,
            frame=frame,
            first_pass=first_pass,
        )
    size = "-first" if first_pass else ""
    etag = f'"{found.sha256[:32]}-{found.frame}{size}-v{dicom_pixels.VERSION}"'
    headers = {"ETag": etag, "Cache-Control": PIXELS_CACHE, "Vary": "Cookie"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    headers["Content-Encoding"] = "gzip"
    return web.Response(body=found.data, content_type=svc.PIXELS_TYPE, headers=headers)


@routes.route(
    "GET",
    "/api/v1/attachments/{id}/deidentified",
    name="api-attachment-deidentified",
    summary=(
        "A de-identified copy of a DICOM attachment (DICOM PS3.15 basic profile: names, IDs, "
        "UIDs, dates, addresses replaced; private, overlay and free-text attributes removed; "
        "pixels untouched); `Telemed-Burned-In: yes` when its pixels may carry text; audited"
    ),
    response_content="application/dicom",
    errors=(400, 401, 404, 429),
)
async def deidentified(request: web.Request) -> web.Response:
    """Download a de-identified copy."""
    async with sessions(request)() as session:
        copy = await deidentified_svc.deidentified_dicom(
            session=session,
            blobs=request.app[blobs_key],
            renderer=request.app[renderer_key],
            actor=actor(request),
            attachment_id=path_uuid(request),
        )
    return web.Response(
        body=copy.data,
        content_type="application/dicom",
        headers={
            "Content-Disposition": content_disposition("attachment", copy.filename),
            "Cache-Control": "private, no-store",
            "Telemed-Burned-In": "yes" if copy.burned_in else "no",
        },
    )
