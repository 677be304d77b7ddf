"""Attachments of a case file: streamed upload, removal, and recordings kept.

The bytes go to the content-addressed store first (hashed, counted, sniffed); the row is
committed only once the file is in place, and a refused or interrupted upload leaves neither
a row nor a file. Files can be added while the case is being prepared and until its session
(new results often arrive the day before); they can be removed only before it is scheduled,
so nothing a specialist has read disappears from the record.

Reading a file (the listing, the verified and audited download) is ``attachment_reads``; what
an uploaded file is (its safe name, its kind, the facts in it) is ``attachment_files``; the
image a browser can show of it is ``attachment_previews``.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..blobs import CHUNK, BlobStore, PendingBlob
from ..errors import Conflict, Invalid, NotFound
from ..localtime import LOCAL_TZ
from ..messages import msg, nmsg, one_of
from ..models import (
    Attachment,
    AttachmentKind,
    Case,
    CaseStatus,
    Consultation,
    ConsultationCase,
)
from ..models.base import utcnow
from ..render import DEFAULT_MAX_PIXELS
from ..sniff import Sniffed, sniff
from ..vocabulary import label
from .attachment_files import checked_kind, extract_meta, json_safe, sanitize_filename
from .attachment_reads import readable
from .cases import EDITABLE, add_event
from .recording_review import recording_filename

UPLOADABLE = EDITABLE | {CaseStatus.scheduled}
MAX_DESCRIPTION = 500
_EXT_BY_TYPE = {
    "video/webm": ".webm",
    "video/mp4": ".mp4",
    "audio/webm": ".weba",
    "audio/ogg": ".ogg",
    "video/x-matroska": ".mkv",
}


def _check_open(case: Case) -> None:
    if case.status not in UPLOADABLE:
        raise Conflict(
            msg(
                "Hồ sơ ở trạng thái «%(status)s», không thể thêm tệp",
                status=label(CaseStatus(case.status)),
            )
        )


async def _is_referenced(session: AsyncSession, sha256: str) -> bool:
    row = (
        await session.execute(select(Attachment.id).where(Attachment.sha256 == sha256).limit(1))
    ).first()
    # End the read so the next question sees rows committed since.
    await session.commit()
    return row is not None


async def _commit_new(
    session: AsyncSession,
    *,
    blobs: BlobStore,
    pending: PendingBlob,
    attachment: Attachment,
    case: Case,
    actor: Actor,
    event: str,
) -> None:
    """Place the file, then commit the row, its history entry and its audit event together."""
    created = await blobs.place(pending)
    try:
        session.add(attachment)
        case.updated_at = utcnow()
        session.add(case)
        add_event(session, case=case, actor=actor, action=event, detail=attachment.filename)
        await audit.record(
            session,
            actor=actor,
            action="create",
            object_type="attachment",
            object_id=attachment.id,
            patient_id=case.patient_id,
            detail={
                "case": str(case.id),
                "kind": str(attachment.kind),
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "sha256": attachment.sha256,
            },
        )
        await session.commit()
    except BaseException:
        await session.rollback()
        if created:
            await blobs.remove_unreferenced(
                pending.sha256, is_referenced=lambda: _is_referenced(session, pending.sha256)
            )
        raise
    blobs.ensure_placed(pending)


async def upload(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    actor: Actor,
    case_id: uuid.UUID,
    kind: AttachmentKind | str,
    filename: str,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    description: str = "",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    for_thread: bool = False,
) -> Attachment:
    """Stream a file into the store and attach it to a case the actor may edit.

    A picture with more than ``max_pixels`` pixels a frame is kept, flagged as having no
    preview (see ``attachment_previews``): the record keeps what the doctor sent.
    ``for_thread``: the file goes with a message of the case thread, which anyone who may read
    the case writes to, whatever the case's status.
    """
    try:
        wanted = AttachmentKind(kind)
    except ValueError:
        raise Invalid(
            msg("Loại tài liệu không hợp lệ"), fields={"kind": one_of(AttachmentKind)}
        ) from None
    description = " ".join((description or "").split())
    if len(description) > MAX_DESCRIPTION:
        problem = nmsg(
            "Mô tả dài tối đa %(num)d ký tự", "Mô tả dài tối đa %(num)d ký tự", MAX_DESCRIPTION
        )
        raise Invalid(problem, fields={"description": problem})
    case = await access.require_case(
        session=session, actor=actor, case_id=case_id, write=not for_thread
    )
    check = (lambda case: None) if for_thread else _check_open
    check(case)
    # No transaction stays open while a large file crawls in over a slow link.
    await session.commit()

    sniffed: list[Sniffed] = []

    def check_head(head: bytes) -> None:
        found = sniff(head)
        checked_kind(wanted, found)
        sniffed.append(found)

    pending = await blobs.receive(chunks, max_bytes=max_bytes, check_head=check_head)
    try:
        found = sniffed[0]
        meta = await asyncio.to_thread(extract_meta, pending.path, found, max_pixels=max_pixels)
        # The case may have moved on while the bytes arrived.
        await session.refresh(case)
        check(case)
        attachment = Attachment(
            case_id=case.id,
            kind=checked_kind(wanted, found),
            filename=sanitize_filename(
                filename, fallback="tep-dinh-kem" + found.extension, found=found
            ),
            content_type=found.content_type,
            size=pending.size,
            sha256=pending.sha256,
            description=description,
            meta=json_safe(meta),
            uploaded_by=actor.user_id,
        )
        await _commit_new(
            session,
            blobs=blobs,
            pending=pending,
            attachment=attachment,
            case=case,
            actor=actor,
            event="attachment",
        )
    finally:
        blobs.discard(pending)
    return attachment


async def delete(
    *, session: AsyncSession, blobs: BlobStore, actor: Actor, attachment_id: uuid.UUID
) -> Attachment:
    """Remove an attachment while its case is a draft or submitted; the file goes if unshared."""
    attachment, case = await readable(session, actor=actor, attachment_id=attachment_id, write=True)
    if case.status not in EDITABLE:
        raise Conflict(
            msg(
                "Hồ sơ ở trạng thái «%(status)s», không thể xóa tệp đính kèm",
                status=label(CaseStatus(case.status)),
            )
        )
    sha = attachment.sha256
    await session.delete(attachment)
    case.updated_at = utcnow()
    session.add(case)
    add_event(
        session, case=case, actor=actor, action="attachment-removed", detail=attachment.filename
    )
    await audit.record(
        session,
        actor=actor,
        action="delete",
        object_type="attachment",
        object_id=attachment.id,
        patient_id=case.patient_id,
        detail={"case": str(case.id), "filename": attachment.filename, "sha256": sha},
    )
    await session.commit()
    await blobs.remove_unreferenced(sha, is_referenced=lambda: _is_referenced(session, sha))
    return attachment


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            yield chunk


def _recording_name(meta: dict[str, Any], when: datetime, ext: str) -> str:
    """Whose recording and when it began, so each participant's file has its own name."""
    who = meta.get("participant")
    name = str(who.get("name", "")) if isinstance(who, dict) else ""
    try:
        started = datetime.fromisoformat(str(meta.get("started")))
    except ValueError:
        started = when
    return recording_filename(name, started if started.tzinfo else when, ext)


async def store_recording(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    consultation_id: uuid.UUID,
    path: Path,
    content_type: str,
    meta: dict[str, Any],
) -> Attachment:
    """Keep a finished recording as an attachment of the consultation's first case."""
    actor = Actor.system("recorder")
    consultation = await session.get(Consultation, consultation_id)
    if consultation is None:
        raise NotFound(msg("Không tìm thấy phiên hội chẩn"))
    case = (
        await session.execute(
            select(Case)
            .join(ConsultationCase, col(ConsultationCase.case_id) == Case.id)
            .where(ConsultationCase.consultation_id == consultation_id)
            .order_by(col(Case.created_at), col(Case.id))
            .limit(1)
        )
    ).scalar_one_or_none()
    if case is None:
        raise Conflict(msg("Phiên hội chẩn không có hồ sơ nào để lưu bản ghi hình"))
    await session.commit()
    content_type = (content_type or "application/octet-stream").strip()[:100]
    ext = _EXT_BY_TYPE.get(content_type.split(";")[0].strip().lower(), ".bin")
    when = (consultation.started_at or consultation.scheduled_start or utcnow()).astimezone(
        LOCAL_TZ
    )
    pending = await blobs.receive(_file_chunks(path), max_bytes=sys.maxsize)
    try:
        attachment = Attachment(
            case_id=case.id,
            consultation_id=consultation.id,
            kind=AttachmentKind.recording,
            filename=_recording_name(meta, when, ext),
            content_type=content_type,
            size=pending.size,
            sha256=pending.sha256,
            description=f"Bản ghi hình phiên hội chẩn «{consultation.title}»"[:MAX_DESCRIPTION],
            meta=json_safe(meta),
            uploaded_by=None,
        )
        await _commit_new(
            session,
            blobs=blobs,
            pending=pending,
            attachment=attachment,
            case=case,
            actor=actor,
            event="recording",
        )
    finally:
        blobs.discard(pending)
    path.unlink(missing_ok=True)
    return attachment
