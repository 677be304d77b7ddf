"""The signed PDF of final minutes: signed by the host facility, kept as an attachment of the
case (hashed, audited), read back for downloads, and checked against the record."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import audit, signing
from ..actor import Actor
from ..blobs import BlobStore
from ..errors import Conflict, NotFound
from ..messages import msg
from ..models import (
    Attachment,
    AttachmentKind,
    Case,
    Consultation,
    Facility,
    Minutes,
    MinutesStatus,
)
from .attachments import _commit_new
from .minutes import get_minutes, read_minutes


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def filename(minutes: Minutes) -> str:
    """The PDF's file name: the register number and the year, as a clerk would file it."""
    seq = minutes.number_seq or 0
    return f"bien-ban-hoi-chan-{seq:03d}-BB-HC-{minutes.number_year or ''}-v{minutes.version}.pdf"


async def attach_signed_pdf(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    certs: signing.FacilityCertificates,
    minutes_id: uuid.UUID,
    pdf: bytes,
    actor: Actor,
) -> Attachment:
    """Sign the rendered PDF with the host facility's certificate and keep it with the case.

    Once only: final minutes that already have their PDF keep it.
    """
    minutes = await session.get(Minutes, minutes_id)
    if minutes is None or minutes.status != MinutesStatus.final:
        raise Conflict(msg("Chỉ biên bản đã hoàn tất mới có bản PDF đã ký"))
    if minutes.pdf_attachment_id is not None:
        existing = await session.get(Attachment, minutes.pdf_attachment_id)
        assert existing is not None  # foreign key
        return existing
    consultation = await session.get(Consultation, minutes.consultation_id)
    case = await session.get(Case, minutes.case_id)
    assert consultation is not None and case is not None  # foreign keys
    host = await session.get(Facility, minutes.facility_id or consultation.host_facility_id)
    assert host is not None
    signed = await signing.sign_pdf(
        pdf,
        signer=await certs.signer(host.code),
        reason=f"Biên bản hội chẩn số {minutes.number}",
        location=minutes.place or host.name,
        name=host.name,
    )
    await session.commit()
    pending = await blobs.receive(_one(signed), max_bytes=len(signed) + 1)
    try:
        attachment = Attachment(
            case_id=case.id,
            consultation_id=consultation.id,
            kind=AttachmentKind.document,
            filename=filename(minutes),
            content_type="application/pdf",
            size=pending.size,
            sha256=pending.sha256,
            description=f"Biên bản hội chẩn số {minutes.number} (bản PDF có chữ ký số)",
            meta={
                "minutes_id": str(minutes.id),
                "number": minutes.number,
                "version": minutes.version,
                "signed_by": host.code,
            },
            uploaded_by=actor.user_id,
        )
        minutes.pdf_attachment_id = attachment.id
        session.add(minutes)
        await _commit_new(
            session,
            blobs=blobs,
            pending=pending,
            attachment=attachment,
            case=case,
            actor=actor,
            event="minutes-pdf",
        )
    finally:
        blobs.discard(pending)
    return attachment


async def signed_pdf(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    actor: Actor,
    minutes_id: uuid.UUID | None = None,
) -> tuple[Minutes, Attachment]:
    """The signed PDF of the latest final minutes about a case (or of one version), for a
    reader of the minutes; the download is audited."""
    if minutes_id is None:
        minutes = await read_minutes(
            session=session, consultation_id=consultation_id, case_id=case_id, actor=actor
        )
        if minutes.status != MinutesStatus.final:
            final = await _latest_final(session, consultation_id, case_id)
            if final is None:
                raise Conflict(msg("Biên bản chưa hoàn tất nên chưa có bản PDF đã ký"))
            minutes = final
    else:
        minutes = await get_minutes(session=session, minutes_id=minutes_id, actor=actor)
        if (minutes.consultation_id, minutes.case_id) != (consultation_id, case_id):
            raise NotFound(msg("Không tìm thấy biên bản"))
    if minutes.pdf_attachment_id is None:
        raise NotFound(msg("Biên bản chưa có bản PDF đã ký"))
    attachment = await session.get(Attachment, minutes.pdf_attachment_id)
    if attachment is None:
        raise NotFound(msg("Biên bản chưa có bản PDF đã ký"))
    case = await session.get(Case, minutes.case_id)
    await audit.record_now(
        session,
        actor=actor,
        action="download",
        object_type="attachment",
        object_id=attachment.id,
        patient_id=case.patient_id if case else None,
        detail={"minutes": str(minutes.id), "number": minutes.number},
    )
    return minutes, attachment


async def _latest_final(
    session: AsyncSession, consultation_id: uuid.UUID, case_id: uuid.UUID
) -> Minutes | None:
    return (
        (
            await session.execute(
                select(Minutes)
                .where(
                    Minutes.consultation_id == consultation_id,
                    Minutes.case_id == case_id,
                    Minutes.status == MinutesStatus.final,
                )
                .order_by(col(Minutes.version).desc())
                .limit(1)
            )
        )
        .scalars()
        .first()
    )


async def final_minutes(
    *, session: AsyncSession, consultation_id: uuid.UUID, case_id: uuid.UUID, actor: Actor
) -> tuple[Minutes, Attachment | None] | None:
    """The latest final minutes about a case and their signed PDF (None if none is final);
    for exports (FHIR, archives) that must carry the document as filed."""
    await read_minutes(
        session=session, consultation_id=consultation_id, case_id=case_id, actor=actor
    )
    minutes = await _latest_final(session, consultation_id, case_id)
    if minutes is None:
        return None
    pdf = (
        await session.get(Attachment, minutes.pdf_attachment_id)
        if minutes.pdf_attachment_id
        else None
    )
    return minutes, pdf


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``telemed minutes verify`` found about a file."""

    sha256: str
    on_record: bool
    signature: signing.SignatureCheck
    number: str | None = None
    facility: str | None = None

    @property
    def ok(self) -> bool:
        """The file is the one on record and its signature holds."""
        return self.on_record and self.signature.ok


async def verify_file(
    *, session: AsyncSession, certs: signing.FacilityCertificates, data: bytes
) -> Verification:
    """Whether a PDF is the signed minutes on record, and its signature valid and trusted."""
    sha = hashlib.sha256(data).hexdigest()
    row = (
        await session.execute(
            select(Minutes, Facility)
            .join(Attachment, col(Attachment.id) == Minutes.pdf_attachment_id)
            .join(Facility, col(Facility.id) == Minutes.facility_id)
            .where(Attachment.sha256 == sha)
        )
    ).first()
    if row is None:
        # Not on record; the signature is still read, against no facility in particular.
        return Verification(sha, False, await signing.check_pdf(data, []))
    minutes, facility = row
    check = await signing.check_pdf(data, certs.trust_roots(facility.code))
    return Verification(sha, True, check, minutes.number, facility.name)
