"""Who may enter a consultation room: a join token or a session cookie, checked by the rules.

The signalling server asks this for every socket; the answer is an entry (who, in which role)
or a refusal it turns into a close code. The token is spent for good whatever is decided.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access
from ..actor import Actor, ReadPolicy
from ..errors import NotFound
from ..models import (
    Attendance,
    Consultation,
    ConsultationStatus,
    Facility,
    ParticipantRole,
    User,
)
from . import join_tokens
from .attendance import role_of
from .auth import resolve_session_cookie


class RoomRefusal(StrEnum):
    """Why a socket may not enter a room."""

    unknown_room = "unknown-room"
    bad_token = "bad-token"
    signed_out = "signed-out"
    ended = "ended"
    not_invited = "not-invited"


@dataclass(frozen=True, slots=True)
class RoomEntry:
    """A person let into a room: who they are and how they take part."""

    user: User
    facility_name: str
    moderator: bool
    needs_admission: bool
    # Presents a case: may share images with the room (moderators may too).
    presenter: bool = False


async def _user_id(
    session: AsyncSession, *, room_id: str, token: str | None, session_cookie: str | None
) -> uuid.UUID | None:
    if token:
        return await join_tokens.spend_join_token(session=session, room_id=room_id, token=token)
    if session_cookie:
        signed_in = await resolve_session_cookie(session=session, cookie_value=session_cookie)
        return signed_in.id if signed_in is not None else None
    return None


async def admit(
    *,
    session: AsyncSession,
    room_id: str,
    token: str | None,
    session_cookie: str | None,
    policy: ReadPolicy,
) -> RoomEntry | RoomRefusal:
    """The entry of the person a join token (or else a session cookie) names, or why not."""
    user_id = await _user_id(session, room_id=room_id, token=token, session_cookie=session_cookie)
    if user_id is None:
        if await access.consultation_by_room(session=session, room_id=room_id) is None:
            return RoomRefusal.unknown_room
        return RoomRefusal.bad_token if token else RoomRefusal.signed_out
    # The room, the user, their facility's name and their invitation in one query, in the
    # transaction that spent the token: the role is decided on the current rows.
    row = (
        await session.execute(
            select(Consultation, User, Facility.name, access.invitation_role(user_id))
            .select_from(Consultation)
            .outerjoin(User, col(User.id) == user_id)
            .outerjoin(Facility, col(Facility.id) == col(User.facility_id))
            .where(col(Consultation.room_id) == room_id)
        )
    ).first()
    if token:
        # Spent for good, whatever is decided below.
        await session.commit()
    if row is None:
        return RoomRefusal.unknown_room
    consultation: Consultation = row[0]
    user: User | None = row[1]
    if user is None or not user.active:
        return RoomRefusal.signed_out
    if consultation.status in (ConsultationStatus.ended, ConsultationStatus.cancelled):
        return RoomRefusal.ended
    invited = access.invited_as(row[3])
    try:
        role = await access.require_room_role(
            session=session,
            actor=Actor.of(user, policy=policy),
            consultation=consultation,
            invited=invited,
        )
    except NotFound:
        # The refusal is already in the audit trail.
        return RoomRefusal.not_invited
    moderator = role == "moderator"
    return RoomEntry(
        user=user,
        facility_name=row[2] or "",
        moderator=moderator,
        presenter=role_of(consultation, user, {user.id: invited[0]} if invited else {})
        == ParticipantRole.presenter,
        needs_admission=consultation.requires_admission
        and not moderator
        and not await admitted_before(session, consultation=consultation, user_id=user.id),
    )


# How a stay in the room ended when the chair, not the person, ended it.
REMOVED_BY_CHAIR = ("kicked", "lobby", "denied")


async def admitted_before(
    session: AsyncSession, *, consultation: Consultation, user_id: uuid.UUID
) -> bool:
    """Whether the person was let into this session earlier and the chair has not removed
    them since: their last stay in the room (kept by every process) did not end by the chair's
    hand. Such a person comes back after a reload without waiting in the lobby."""
    if consultation.status != ConsultationStatus.live:
        return False
    last = (
        await session.execute(
            select(Attendance.left_at, Attendance.reason)
            .where(Attendance.consultation_id == consultation.id, Attendance.user_id == user_id)
            .order_by(col(Attendance.joined_at).desc())
            .limit(1)
        )
    ).first()
    return last is not None and (last[0] is None or last[1] not in REMOVED_BY_CHAIR)
