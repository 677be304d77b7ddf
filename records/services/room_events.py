"""What happened in a consultation room, as reported by signalling: attendance, chat, end."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, NotFound
from ..messages import msg
from ..models import (
    Attendance,
    Case,
    ChatMessage,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    User,
)
from ..models.base import utcnow
from .consultations import finish, start_live


async def _room(session: AsyncSession, room_id: str) -> Consultation:
    consultation = await access.consultation_by_room(session=session, room_id=room_id)
    if consultation is None:
        raise NotFound(msg("Không tìm thấy phòng hội chẩn"))
    return consultation


async def _actor(session: AsyncSession, user_id: uuid.UUID) -> Actor:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(msg("Không tìm thấy người dùng"))
    return Actor.of(user)


async def record_join(
    *, session: AsyncSession, room_id: str, user_id: uuid.UUID, peer_id: str, at: datetime
) -> Attendance:
    """Open an attendance interval; the first join makes a scheduled consultation live."""
    # The room and the user in one query.
    row = (
        await session.execute(
            select(Consultation, User)
            .select_from(Consultation)
            .outerjoin(User, col(User.id) == user_id)
            .where(Consultation.room_id == room_id)
        )
    ).first()
    if row is None:
        raise NotFound(msg("Không tìm thấy phòng hội chẩn"))
    consultation: Consultation = row[0]
    if row[1] is None:
        raise NotFound(msg("Không tìm thấy người dùng"))
    actor = Actor.of(row[1])
    attendance = Attendance(
        consultation_id=consultation.id, user_id=user_id, peer_id=peer_id[:64], joined_at=at
    )
    session.add(attendance)
    if consultation.status == ConsultationStatus.scheduled:
        await start_live(session, consultation=consultation, actor=Actor.system(), at=at)
    await audit.record(
        session,
        actor=actor,
        action="join",
        object_type="consultation",
        object_id=consultation.id,
        detail={"peer_id": peer_id},
    )
    await session.commit()
    return attendance


async def record_leave(
    *,
    session: AsyncSession,
    room_id: str,
    user_id: uuid.UUID,
    peer_id: str,
    at: datetime,
    reason: str = "left",
) -> Attendance | None:
    """Close the peer's open attendance interval (a no-op when none is open)."""
    consultation = await _room(session, room_id)
    attendance = (
        (
            await session.execute(
                select(Attendance)
                .where(
                    Attendance.consultation_id == consultation.id,
                    Attendance.user_id == user_id,
                    Attendance.peer_id == peer_id[:64],
                    col(Attendance.left_at).is_(None),
                )
                .order_by(col(Attendance.joined_at).desc())
            )
        )
        .scalars()
        .first()
    )
    if attendance is None:
        return None
    attendance.left_at = max(at, attendance.joined_at)
    attendance.reason = reason[:40]
    session.add(attendance)
    await audit.record(
        session,
        actor=await _actor(session, user_id),
        action="leave",
        object_type="consultation",
        object_id=consultation.id,
        detail={"peer_id": peer_id, "reason": reason},
    )
    await session.commit()
    return attendance


async def record_chat(
    *, session: AsyncSession, room_id: str, user_id: uuid.UUID, text: str, at: datetime
) -> ChatMessage:
    """Keep a chat line with the consultation."""
    consultation = await _room(session, room_id)
    message = ChatMessage(consultation_id=consultation.id, user_id=user_id, text=text[:2000], at=at)
    session.add(message)
    await session.commit()
    return message


async def record_room_ended(*, session: AsyncSession, room_id: str, at: datetime) -> Consultation:
    """Close every open interval and end the consultation (its cases become discussed)."""
    consultation = await _room(session, room_id)
    open_rows = (
        (
            await session.execute(
                select(Attendance).where(
                    Attendance.consultation_id == consultation.id, col(Attendance.left_at).is_(None)
                )
            )
        )
        .scalars()
        .all()
    )
    for attendance in open_rows:
        attendance.left_at = max(at, attendance.joined_at)
        attendance.reason = "ended"
        session.add(attendance)
    if consultation.status in (ConsultationStatus.scheduled, ConsultationStatus.live):
        await finish(session, consultation=consultation, actor=Actor.system(), at=at)
    await session.commit()
    return consultation


async def chat_log(
    *, session: AsyncSession, consultation_id: uuid.UUID, actor: Actor
) -> list[tuple[ChatMessage, str]]:
    """The chat of a consultation, oldest first, with each sender's display name.

    The chat belongs to the record of its cases: whoever may no longer read any of them (a
    consultant past the follow-up window) may no longer read it either."""
    await access.require_consultation(session=session, actor=actor, consultation_id=consultation_id)
    open_cases = (
        await session.execute(
            select(Case.patient_id)
            .join(ConsultationCase, col(Case.id) == ConsultationCase.case_id)
            .where(
                ConsultationCase.consultation_id == consultation_id,
                access.cases_filter(actor, utcnow()),
            )
        )
    ).all()
    if not open_cases:
        raise await access.deny(
            session,
            actor=actor,
            object_type="consultation",
            object_id=consultation_id,
            need="read-chat",
        )
    rows = await session.execute(
        select(ChatMessage, User)
        .join(User, col(User.id) == col(ChatMessage.user_id))
        .where(ChatMessage.consultation_id == consultation_id)
        .order_by(col(ChatMessage.at))
    )
    found = [(message, user.display_name) for message, user in rows.all()]
    # The chat is about the patients of the consultation's cases: a trace for each of them.
    patients = dict.fromkeys(patient_id for (patient_id,) in open_cases)
    await audit.record_reads(
        session,
        actor=actor,
        reads=[audit.Read("consultation", consultation_id, p) for p in patients],
        detail={"part": "chat"},
    )
    return found


async def require_joinable(
    *, session: AsyncSession, consultation_id: uuid.UUID, actor: Actor
) -> tuple[Consultation, str]:
    """The consultation and the actor's room role, if the actor may enter its room now."""
    # The read check and the actor's invitation in one query.
    consultation, invited = await access.require_consultation_with_roles(
        session=session, actor=actor, consultation_id=consultation_id
    )
    if consultation.status in (ConsultationStatus.ended, ConsultationStatus.cancelled):
        raise Conflict(msg("Phiên hội chẩn đã kết thúc hoặc đã bị hủy"))
    if consultation.status == ConsultationStatus.requested and (
        await access.room_role(
            session=session, actor=actor, consultation=consultation, invited=invited
        )
        is None
    ):
        raise Conflict(msg("Phiên hội chẩn chưa được lên lịch"))
    role = await access.require_room_role(
        session=session, actor=actor, consultation=consultation, invited=invited
    )
    return consultation, role
