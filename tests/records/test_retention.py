"""What the application never deletes: recordings, a session's files, and the attachments of
a case whose minutes are final (a clear 409, nothing removed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from attachmenttools import PDF, attachment_world, count_rows, upload
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from records.errors import Conflict
from records.models import (
    Attachment,
    AttachmentKind,
    CaseStatus,
    Consultation,
    ConsultationCase,
    Minutes,
    MinutesStatus,
)
from records.models.base import utcnow
from records.render import Renderer
from records.services import attachments


async def test_kept_files_cannot_be_deleted(
    session: AsyncSession, tmp_path: Path, renderer: Renderer
) -> None:
    world = await attachment_world(session, tmp_path / "blobs", renderer)
    kept = await upload(session, world, PDF, filename="x-quang.pdf")
    loose = await upload(session, world, PDF + b"2", filename="nhap.pdf")
    link = (
        await session.execute(
            select(ConsultationCase).where(ConsultationCase.case_id == world.case.id)
        )
    ).scalar_one()
    consultation = await session.get(Consultation, link.consultation_id)
    assert consultation is not None
    recording = await session.get(Attachment, loose.id)
    assert recording is not None
    recording.kind = AttachmentKind.recording
    recording.consultation_id = consultation.id
    session.add(recording)
    await session.commit()
    with pytest.raises(Conflict) as refused:
        await attachments.delete(
            session=session, blobs=world.store, actor=world.doctor, attachment_id=loose.id
        )
    assert "Bản ghi hình" in refused.value.message

    # Final minutes about the case: its files are part of the record from now on, even if
    # the case goes back to "submitted" for another session.
    session.add(
        Minutes(
            consultation_id=consultation.id,
            case_id=world.case.id,
            conclusion="Viêm phổi",
            status=MinutesStatus.final,
            finalized_at=utcnow(),
        )
    )
    world.case.status = CaseStatus.submitted
    session.add(world.case)
    await session.commit()
    with pytest.raises(Conflict) as refused:
        await attachments.delete(
            session=session, blobs=world.store, actor=world.doctor, attachment_id=kept.id
        )
    assert "biên bản hội chẩn hoàn tất" in refused.value.message
    assert await count_rows(session) == 2
    assert world.store.exists(kept.sha256)
