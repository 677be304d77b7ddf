"""The bridge between signalling and the records: who may join a room, and what to remember."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlmodel import col, select

from records import access
from records.actor import Actor, ReadPolicy
from records.db import SessionMaker
from records.errors import NotFound
from records.models import Consultation, ConsultationStatus, Facility, User
from records.services import auth as auth_svc
from records.services import join_tokens, room_events
from signaling import (
    ChatPosted,
    CloseCode,
    Identity,
    JoinRefused,
    PeerJoined,
    PeerLeft,
    RoomEnded,
    RoomEvent,
    SignalingConfig,
)
from signaling.ice import ice_servers

from .settings import Settings

log = logging.getLogger(__name__)


def signaling_config(settings: Settings) -> SignalingConfig:
    """The signalling server's view of the settings."""
    return SignalingConfig(
        max_peers=settings.room_max_peers,
        grace_seconds=settings.resume_grace_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        allowed_origins=settings.allowed_origins,
        stun_urls=settings.stun_urls,
        turn_urls=settings.turn_urls,
        turn_secret=settings.turn_secret,
        turn_ttl_seconds=settings.turn_ttl_seconds,
        redis_url=settings.redis_url,
    )


def ice_provider(config: SignalingConfig) -> Any:
    """A function giving each user their ICE servers (with fresh TURN credentials)."""

    def provide(user_id: str) -> list[dict[str, Any]]:
        return ice_servers(config, user_id)

    return provide


class RecordsAuthorizer:
    """Admits a socket when the records' access rules let its user join the consultation."""

    def __init__(self, sessions: SessionMaker, *, policy: ReadPolicy) -> None:
        self._sessions = sessions
        self._policy = policy

    async def authorize(
        self, *, room_id: str, token: str | None, session_cookie: str | None
    ) -> Identity:
        """Resolve the token or cookie to a user allowed in this room, or refuse."""
        async with self._sessions() as session:
            user_id: uuid.UUID | None = None
            if token:
                user_id = await join_tokens.spend_join_token(
                    session=session, room_id=room_id, token=token
                )
            elif session_cookie:
                signed_in = await auth_svc.resolve_session_cookie(
                    session=session, cookie_value=session_cookie
                )
                user_id = signed_in.id if signed_in is not None else None
            if user_id is None:
                if await access.consultation_by_room(session=session, room_id=room_id) is None:
                    raise JoinRefused(CloseCode.UNKNOWN_ROOM, "unknown room")
                if token:
                    raise JoinRefused(CloseCode.UNAUTHENTICATED, "invalid, expired or used token")
                raise JoinRefused(CloseCode.UNAUTHENTICATED, "not signed in")
            # The room, the user, their facility's name and their invitation in one query, in
            # the transaction that spent the token: the role is decided on the current rows.
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
                raise JoinRefused(CloseCode.UNKNOWN_ROOM, "unknown room")
            consultation: Consultation = row[0]
            user: User | None = row[1]
            facility_name: str | None = row[2]
            if user is None or not user.active:
                raise JoinRefused(CloseCode.UNAUTHENTICATED, "not signed in")
            if consultation.status in (ConsultationStatus.ended, ConsultationStatus.cancelled):
                raise JoinRefused(CloseCode.ENDED, "the session is over")
            actor = Actor.of(user, policy=self._policy)
            try:
                role = await access.require_room_role(
                    session=session,
                    actor=actor,
                    consultation=consultation,
                    invited=access.invited_as(row[3]),
                )
            except NotFound:
                # The refusal is already in the audit trail.
                raise JoinRefused(CloseCode.FORBIDDEN, "not invited") from None
            moderator = role == "moderator"
            return Identity(
                user_id=str(user.id),
                name=user.display_name,
                facility=facility_name or "",
                title=user.title,
                user_role=str(user.role),
                moderator=moderator,
                needs_admission=consultation.requires_admission and not moderator,
            )


class RecordsEventSink:
    """Turns room events into attendance intervals, the chat log and audit events."""

    def __init__(self, sessions: SessionMaker) -> None:
        self._sessions = sessions

    async def publish(self, event: RoomEvent) -> None:
        """Record one room event."""
        user_id = uuid.UUID(event.user_id) if event.user_id else None
        async with self._sessions() as session:
            if isinstance(event, PeerJoined) and user_id and event.peer_id:
                await room_events.record_join(
                    session=session,
                    room_id=event.room_id,
                    user_id=user_id,
                    peer_id=event.peer_id,
                    at=event.time,
                )
            elif isinstance(event, PeerLeft) and user_id and event.peer_id:
                await room_events.record_leave(
                    session=session,
                    room_id=event.room_id,
                    user_id=user_id,
                    peer_id=event.peer_id,
                    at=event.time,
                    reason=event.reason,
                )
            elif isinstance(event, ChatPosted) and user_id:
                await room_events.record_chat(
                    session=session,
                    room_id=event.room_id,
                    user_id=user_id,
                    text=event.text,
                    at=event.time,
                )
            elif isinstance(event, RoomEnded):
                await room_events.record_room_ended(
                    session=session, room_id=event.room_id, at=event.time
                )
