"""Entering a room: who a join token names, in which role, and every way of being refused."""

from __future__ import annotations

import uuid

import factories
from sqlalchemy.ext.asyncio import AsyncSession

from records.actor import ReadPolicy
from records.models import ConsultationStatus, FacilityLevel, ParticipantRole, Role
from records.services import join_tokens
from records.services.room_admission import RoomEntry, RoomRefusal, admit

POLICY = ReadPolicy()


async def _ticket(session: AsyncSession, user_id: uuid.UUID, room_id: str) -> str:
    token, _ = await join_tokens.issue_join_token(
        session=session, user_id=user_id, room_id=room_id, ttl_seconds=60
    )
    return token


async def test_tokens_admit_the_invited_in_their_role_once(session: AsyncSession) -> None:
    host = await factories.facility(session, level=FacilityLevel.provincial, name="BVĐK tỉnh")
    home = await factories.facility(session)
    chair = await factories.user(session, facility=host, role=Role.specialist)
    guest = await factories.user(session, facility=host, role=Role.specialist)
    stranger = await factories.user(session, facility=host, role=Role.specialist)
    doctor = await factories.user(session, facility=home, role=Role.doctor)
    room = (
        await factories.consultation(
            session,
            host=host,
            requesting=home,
            chair=chair,
            participants={guest.id: ParticipantRole.specialist},
        )
    ).room_id

    async def enter(user_id: uuid.UUID, token: str | None = None) -> RoomEntry | RoomRefusal:
        token = token if token is not None else await _ticket(session, user_id, room)
        return await admit(
            session=session, room_id=room, token=token, session_cookie=None, policy=POLICY
        )

    entry = await enter(chair.id)
    assert isinstance(entry, RoomEntry)
    assert (entry.user.id, entry.facility_name, entry.moderator) == (chair.id, "BVĐK tỉnh", True)
    token = await _ticket(session, guest.id, room)
    entry = await enter(guest.id, token)
    assert isinstance(entry, RoomEntry) and not entry.moderator and entry.needs_admission
    assert not entry.presenter
    # The requesting facility's doctor presents the case: they may lead the images.
    entry = await enter(doctor.id)
    assert isinstance(entry, RoomEntry) and entry.presenter and not entry.moderator
    assert await enter(guest.id, token) == RoomRefusal.bad_token
    assert await enter(stranger.id) == RoomRefusal.not_invited
    unknown = await admit(
        session=session, room_id="nowhere", token=None, session_cookie=None, policy=POLICY
    )
    assert unknown == RoomRefusal.unknown_room
    signed_out = await admit(
        session=session, room_id=room, token=None, session_cookie=None, policy=POLICY
    )
    assert signed_out == RoomRefusal.signed_out


async def test_an_ended_session_refuses_everyone(session: AsyncSession) -> None:
    host = await factories.facility(session, level=FacilityLevel.provincial)
    chair = await factories.user(session, facility=host, role=Role.specialist)
    consultation = await factories.consultation(
        session,
        host=host,
        requesting=await factories.facility(session),
        chair=chair,
        status=ConsultationStatus.ended,
    )
    token = await _ticket(session, chair.id, consultation.room_id)
    refused = await admit(
        session=session,
        room_id=consultation.room_id,
        token=token,
        session_cookie=None,
        policy=POLICY,
    )
    assert refused == RoomRefusal.ended
