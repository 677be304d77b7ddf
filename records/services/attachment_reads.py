"""Reading attachments: who may, the listing, and the one entry point to a file's bytes.

``open_download`` checks access once, verifies the file and writes the audit entry once, for
the whole file and for a byte range alike. A range cannot be checked against the hash of the
whole file, so the file is hashed in full on its first ranged read in this process
(``BlobStore.verify_once``). Every whole download is audited; a ranged read is audited unless
the same person's download of the same file is already in the log from the last
``RANGE_AUDIT_WINDOW``, so that scrubbing through a recording does not flood the log.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit, audit_log
from ..actor import Actor
from ..blobs import BlobStore
from ..errors import NotFound
from ..messages import N_, msg
from ..models import Attachment, AttachmentKind, Case
from ..models.base import utcnow
from .cases import EDITABLE

NOT_FOUND = N_("Không tìm thấy tệp đính kèm")
# A ranged read is audited once per person and file within this window.
RANGE_AUDIT_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """One satisfiable byte range of a file, both ends inclusive."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.end - self.start + 1


# Which part of a file the caller wants, once the file (its size, its hash) is known:
# None for the whole file; RangeNotSatisfiable when the part lies outside it.
PartChooser = Callable[[Attachment], ByteRange | None]


@dataclass(frozen=True, slots=True)
class Download:
    """A file being read: its row, the part chosen (None: all of it) and the bytes."""

    attachment: Attachment
    part: ByteRange | None
    chunks: AsyncIterator[bytes]


async def readable(
    session: AsyncSession, *, actor: Actor, attachment_id: uuid.UUID, write: bool = False
) -> tuple[Attachment, Case]:
    """The attachment and its case if the actor may read it (and write it, when asked)."""
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(msg(NOT_FOUND))
    try:
        case = await access.require_case(
            session=session, actor=actor, case_id=attachment.case_id, write=write
        )
    except NotFound:
        # Same answer as for an id that does not exist: ids cannot be probed.
        raise NotFound(msg(NOT_FOUND)) from None
    return attachment, case


def can_remove(actor: Actor, attachment: Attachment, case: Case) -> bool:
    """Whether the actor may remove this file: a writer of the case while it is being prepared.

    A recording is the record of a session and stays.
    """
    return (
        access.can_write_clinical(actor, case.facility_id)
        and case.status in EDITABLE
        and attachment.kind != AttachmentKind.recording
    )


async def list_for_case(
    *, session: AsyncSession, actor: Actor, case_id: uuid.UUID
) -> list[Attachment]:
    """A case's attachments, oldest first, for anyone who may read the case; audited."""
    case = await access.require_case(session=session, actor=actor, case_id=case_id)
    rows = await session.execute(
        select(Attachment)
        .where(Attachment.case_id == case_id)
        .order_by(col(Attachment.uploaded_at), col(Attachment.id))
    )
    found = list(rows.scalars().all())
    await audit.record_reads(
        session,
        actor=actor,
        reads=[audit.Read("case", case.id, case.patient_id)],
        detail={"part": "attachments"},
    )
    return found


async def get_attachment(
    *, session: AsyncSession, actor: Actor, attachment_id: uuid.UUID
) -> Attachment:
    """One attachment's row, for anyone who may read its case."""
    attachment, _ = await readable(session, actor=actor, attachment_id=attachment_id)
    return attachment


async def open_download(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    actor: Actor,
    attachment_id: uuid.UUID,
    part: PartChooser | None = None,
) -> Download:
    """The attachment's bytes, whole and hash-checked or the part ``part`` chooses; audited."""
    attachment, case = await readable(session, actor=actor, attachment_id=attachment_id)
    chosen = part(attachment) if part is not None else None
    if chosen is None:
        chunks = blobs.open(attachment.sha256, size=attachment.size)
        audited = False
    else:
        await blobs.verify_once(attachment.sha256, size=attachment.size)
        chunks = blobs.open_range(attachment.sha256, chosen.start, chosen.end)
        audited = actor.user_id is not None and await audit_log.recorded_since(
            session,
            actor_id=actor.user_id,
            action="download",
            object_type="attachment",
            object_id=attachment.id,
            since=utcnow() - RANGE_AUDIT_WINDOW,
        )
    if not audited:
        await audit_download(session, actor=actor, attachment=attachment, case=case)
    return Download(attachment=attachment, part=chosen, chunks=chunks)


async def audit_download(
    session: AsyncSession, *, actor: Actor, attachment: Attachment, case: Case, **detail: Any
) -> None:
    """Record (and commit) that the actor took a copy of the file out of the record."""
    await audit.record_now(
        session,
        actor=actor,
        action="download",
        object_type="attachment",
        object_id=attachment.id,
        patient_id=case.patient_id,
        detail={"case": str(case.id), "filename": attachment.filename, **detail},
    )
