"""Imaging studies of a case: the list, one study for the viewer, one slice's pixels.

Access is the case's (``access.require_case`` through ``attachment_reads``): another
facility's doctor gets ``NotFound`` for every study and slice, as for an id that does not
exist. A study view is audited once per person and study within ``VIEW_AUDIT_WINDOW`` (a
working session), whether it starts from the study or from one of its slices, so scrolling
through 300 slices writes one entry, not 300. Pixels are decoded in render workers, once per
content and frame: the packed frame (``records.dicom_pixels``) is cached in the blob store's
preview cache beside the preview, and a file that could not be decoded is remembered there
with its reason (shared with ``attachment_previews``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit, audit_log, dicom_pixels
from ..actor import Actor
from ..blobs import BlobStore
from ..errors import Invalid, NotFound, RecordsError
from ..imaging import UNKNOWN_UID, Study, group, study_id
from ..messages import N_, msg
from ..models import Attachment, Case
from ..models.base import utcnow
from ..render import Renderer, RenderError
from ..render.jobs import DicomSlice
from . import attachment_previews as previews
from .attachment_reads import list_for_case, readable

NOT_FOUND = N_("Không tìm thấy nghiên cứu hình ảnh")
NOT_DICOM = N_("Tệp này không phải ảnh DICOM")
VIEW_AUDIT_WINDOW = timedelta(hours=8)
PIXELS_TYPE = "application/vnd.telemed.pixels"
_OBJECT = "imaging-study"


@dataclass(frozen=True, slots=True)
class Pixels:
    """A packed frame (gzipped), ready to send, and the content it came from."""

    data: bytes
    sha256: str
    frame: int


async def studies_for_case(
    *, session: AsyncSession, actor: Actor, case_id: uuid.UUID
) -> list[Study]:
    """The case's imaging studies, newest first, for anyone who may read the case."""
    attachments = await list_for_case(session=session, actor=actor, case_id=case_id)
    return group(case_id, attachments)


async def _audit_view(
    session: AsyncSession, *, actor: Actor, case: Case, study: uuid.UUID, uid: str
) -> None:
    if actor.user_id is not None and await audit_log.recorded_since(
        session,
        actor_id=actor.user_id,
        action="view",
        object_type=_OBJECT,
        object_id=study,
        since=utcnow() - VIEW_AUDIT_WINDOW,
    ):
        return
    await audit.record_now(
        session,
        actor=actor,
        action="view",
        object_type=_OBJECT,
        object_id=study,
        patient_id=case.patient_id,
        detail={"case": str(case.id), "study_uid": uid},
    )


async def get_study(
    *, session: AsyncSession, actor: Actor, case_id: uuid.UUID, study: uuid.UUID
) -> Study:
    """One study of a case with its series in order; the view is audited (once a session)."""
    try:
        found = await studies_for_case(session=session, actor=actor, case_id=case_id)
    except NotFound:
        raise NotFound(msg(NOT_FOUND)) from None
    for one in found:
        if one.id == study:
            case = await session.get(Case, case_id)
            if case is None:  # pragma: no cover - read a moment ago
                raise NotFound(msg(NOT_FOUND))
            await _audit_view(session, actor=actor, case=case, study=one.id, uid=one.uid)
            return one
    raise NotFound(msg(NOT_FOUND))


def _ext(frame: int, first_pass: bool = False) -> str:
    # The packing's version is in the name: frames packed the old way are not served.
    size = ".s" + str(dicom_pixels.FIRST_PASS_SIZE) if first_pass else ""
    return f"f{frame}{size}.v{dicom_pixels.VERSION}.px.gz"


async def slice_pixels(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    renderer: Renderer,
    actor: Actor,
    attachment_id: uuid.UUID,
    frame: int,
    first_pass: bool = False,
) -> Pixels:
    """One frame of a DICOM attachment, packed for the viewer; the study view is audited.

    ``first_pass``: averaged down to at most twice FIRST_PASS_SIZE a side (a quarter of a CT
    slice's bytes), for the viewer to show while the full frame arrives.
    """
    attachment, case = await readable(session, actor=actor, attachment_id=attachment_id)
    if attachment.content_type != "application/dicom":
        raise Invalid(msg(NOT_DICOM))
    frames = (attachment.meta or {}).get("frames", 1)
    if not isinstance(frames, int) or not 0 <= frame < max(frames, 1):
        raise NotFound(msg(NOT_FOUND))
    uid = str((attachment.meta or {}).get("study_uid") or UNKNOWN_UID)
    await _audit_view(session, actor=actor, case=case, study=study_id(case.id, uid), uid=uid)
    data = await _packed(blobs, renderer, attachment, frame, first_pass=first_pass)
    return Pixels(data, attachment.sha256, frame)


async def _packed(
    blobs: BlobStore, renderer: Renderer, attachment: Attachment, frame: int, *, first_pass: bool
) -> bytes:
    """The packed frame from the cache, or decoded now in a render worker and cached."""
    ext = _ext(frame, first_pass)
    cached = blobs.read_preview(attachment.sha256, ext)
    if cached is not None:
        return cached
    reason = previews.note(blobs=blobs, limits=renderer.limits, attachment=attachment)
    if reason is not None:
        raise Invalid(reason)
    await blobs.verify(attachment.sha256, size=attachment.size)
    path = blobs.path_for(attachment.sha256)
    max_size = dicom_pixels.FIRST_PASS_SIZE if first_pass else dicom_pixels.MAX_SIZE
    job = DicomSlice(path, frame=frame, max_pixels=renderer.limits.max_pixels, max_size=max_size)
    try:
        done = await renderer.run(job)
    except RenderError as exc:
        previews.remember(blobs, attachment.sha256, renderer.limits, exc)
        raise
    blobs.write_preview(attachment.sha256, ext, done.data)
    return done.data


async def warm(*, blobs: BlobStore, renderer: Renderer, studies: list[Study]) -> int:
    """Pack ahead the slice each series opens on (its middle), both passes, so that the first
    viewer of a study does not wait for the decoding; how many frames were packed.

    For a page that has just listed the studies to a reader (access checked and audited
    there); a file that cannot be decoded, or is missing or damaged, is skipped (a decoding
    failure is remembered as usual).
    """
    packed = 0
    for study in studies:
        for series in study.series:
            if not series.slices:
                continue
            chosen = series.slices[len(series.slices) // 2]
            attachment = next((a for a in series.attachments if a.id == chosen.attachment_id), None)
            if attachment is None:
                continue
            for first_pass in (True, False):
                if blobs.has_preview(attachment.sha256, _ext(chosen.frame, first_pass)):
                    continue
                try:
                    await _packed(blobs, renderer, attachment, chosen.frame, first_pass=first_pass)
                except RecordsError:
                    # Undecodable, flagged, missing or damaged: the viewer will say why.
                    break
                packed += 1
    return packed
