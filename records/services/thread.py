"""The written thread of a case: messages, written opinions and files from the requesting
doctors, the invited specialists and the coordinators, before, during and after the session.

Whoever may read the case (``access.require_case``: the follow-up window included) reads and
writes its thread; nobody else learns it exists. The chat of every session about the case
appears in the thread, marked as said during the session. Messages never change; posting and
reading are audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Invalid, NotFound
from ..events import ThreadPosted, announce
from ..messages import msg
from ..models import (
    Attachment,
    CaseMessage,
    ChatMessage,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    Role,
    ThreadKind,
    ThreadPost,
    User,
)

MAX_TEXT = 5000


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    """One line of a case thread: a message, or a line of a session's chat (``in_session``)."""

    id: uuid.UUID
    anchor: str
    author_id: uuid.UUID
    author: str
    kind: str
    text: str
    attachment: Attachment | None
    consultation_id: uuid.UUID | None
    in_session: bool
    at: datetime


def anchor_of(entry_id: uuid.UUID, *, chat: bool = False) -> str:
    """The fragment that names one entry, for links and for the minutes to cite."""
    return f"{'chat' if chat else 'msg'}-{entry_id.hex[:12]}"


async def post(
    *,
    session: AsyncSession,
    actor: Actor,
    case_id: uuid.UUID,
    data: ThreadPost,
    attachment_id: uuid.UUID | None = None,
) -> CaseMessage:
    """Add a message (or a written opinion) to a case's thread, with a file already stored."""
    data = ThreadPost.model_validate(data.model_dump())
    case = await access.require_case(session=session, actor=actor, case_id=case_id)
    text = data.text.strip()
    if not text and attachment_id is None:
        problem = msg("Vui lòng nhập nội dung tin nhắn")
        raise Invalid(problem, fields={"text": problem})
    if data.kind == ThreadKind.opinion and actor.role not in (Role.specialist, Role.coordinator):
        problem = msg("Chỉ chuyên gia và điều phối viên ghi ý kiến chuyên môn")
        raise Invalid(problem, fields={"kind": problem})
    if attachment_id is not None:
        attachment = await session.get(Attachment, attachment_id)
        if attachment is None or attachment.case_id != case.id:
            raise NotFound(msg("Không tìm thấy tệp đính kèm"))
    if actor.user_id is None:
        raise Invalid(msg("Chỉ người dùng được gửi tin nhắn"))
    message = CaseMessage(
        case_id=case.id,
        author_id=actor.user_id,
        kind=data.kind,
        text=text,
        attachment_id=attachment_id,
    )
    session.add(message)
    await audit.record(
        session,
        actor=actor,
        action="create",
        object_type="case_message",
        object_id=message.id,
        patient_id=case.patient_id,
        detail={"case": str(case.id), "kind": str(data.kind)},
    )
    await session.commit()
    await announce(
        session, ThreadPosted(actor_id=actor.user_id, case_id=case.id, message_id=message.id)
    )
    return message


async def read_thread(
    *, session: AsyncSession, actor: Actor, case_id: uuid.UUID
) -> list[ThreadEntry]:
    """A case's thread, oldest first: its messages and the chat of its sessions (audited)."""
    case = await access.require_case(session=session, actor=actor, case_id=case_id)
    messages = await session.execute(
        select(CaseMessage, User, Attachment)
        .join(User, col(User.id) == CaseMessage.author_id)
        .outerjoin(Attachment, col(Attachment.id) == CaseMessage.attachment_id)
        .where(CaseMessage.case_id == case.id)
    )
    entries = [
        ThreadEntry(
            id=m.id,
            anchor=anchor_of(m.id),
            author_id=m.author_id,
            author=user.display_name,
            kind=str(m.kind),
            text=m.text,
            attachment=attachment,
            consultation_id=None,
            in_session=False,
            at=m.created_at,
        )
        for m, user, attachment in messages.all()
    ]
    chat = await session.execute(
        select(ChatMessage, User)
        .join(User, col(User.id) == ChatMessage.user_id)
        .join(
            ConsultationCase, col(ConsultationCase.consultation_id) == ChatMessage.consultation_id
        )
        .join(Consultation, col(Consultation.id) == ChatMessage.consultation_id)
        .where(
            ConsultationCase.case_id == case.id,
            Consultation.status != ConsultationStatus.cancelled,
        )
    )
    entries += [
        ThreadEntry(
            id=line.id,
            anchor=anchor_of(line.id, chat=True),
            author_id=line.user_id,
            author=user.display_name,
            kind="chat",
            text=line.text,
            attachment=None,
            consultation_id=line.consultation_id,
            in_session=True,
            at=line.at,
        )
        for line, user in chat.all()
    ]
    entries.sort(key=lambda e: (e.at, e.id))
    await audit.record_now(
        session,
        actor=actor,
        action="view",
        object_type="case_thread",
        object_id=case.id,
        patient_id=case.patient_id,
    )
    return entries
