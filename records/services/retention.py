"""What the application never deletes: the record of a consultation is kept (at least ten
years, see docs/retention.md), so every delete path asks here first."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from ..errors import Conflict
from ..messages import msg
from ..models import Attachment, AttachmentKind, Minutes, MinutesStatus


async def require_deletable(session: AsyncSession, attachment: Attachment) -> None:
    """Conflict unless the attachment may still be removed: never a recording or a file of a
    session (the minutes' PDF), never a file of a case with final minutes (the case's status
    rule, draft or submitted only, comes on top)."""
    if attachment.kind == AttachmentKind.recording or attachment.consultation_id is not None:
        raise Conflict(
            msg("Bản ghi hình và tài liệu của phiên hội chẩn được lưu trữ lâu dài, không thể xóa")
        )
    concluded = await session.execute(
        select(Minutes.id)
        .where(Minutes.case_id == attachment.case_id, Minutes.status == MinutesStatus.final)
        .limit(1)
    )
    if concluded.first() is not None:
        raise Conflict(
            msg(
                "Hồ sơ đã có biên bản hội chẩn hoàn tất: tài liệu đính kèm được lưu trữ theo "
                "quy định, không thể xóa"
            )
        )
