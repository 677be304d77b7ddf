"""The bridge between signalling and the records: who may join a room, and what to remember."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlmodel import col, select

from records import access
from records.actor import Actor
from records.db import SessionMaker
from records.errors import NotFound, RecordsError
from records.models import ConsultationStatus, Facility, User
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

    def __init__(self, sessions: SessionMaker, *, followup_days: int) -> None:
        self._sessions = sessions
        self._followup_days = followup_days

    async def authorize(
        self, *, room_id: str, token: str | None, session_cookie: str | None
    ) -> Identity:
        """Resolve the token or cookie to a user allowed in this room, or refuse."""
        async with self._sessions() as session:
            consultation = await access.consultation_by_room(session=session, room_id=room_id)
            if consultation is None:
                raise JoinRefused(CloseCode.UNKNOWN_ROOM, "unknown room")
            user: User | None
            if token:
                try:
                    user_id = await join_tokens.consume_join_token(
                        session=session, room_id=room_id, token=token
                    )
                except RecordsError:
                    raise JoinRefused(
                        CloseCode.UNAUTHENTICATED, "invalid, expired or used token"
                    ) from None
                # The user and their facility's name in one round trip.
                row = (
                    await session.execute(
                        select(User, Facility.name)
                        .outerjoin(Facility, col(Facility.id) == col(User.facility_id))
                        .where(col(User.id) == user_id)
                    )
                ).first()
                user, facility_name = (row[0], row[1]) if row is not None else (None, None)
            elif session_cookie:
                user = await auth_svc.resolve_session_cookie(
                    session=session, cookie_value=session_cookie
                )
                facility_name = None
            else:
                user, facility_name = None, None
            if user is None or not user.active:
                raise JoinRefused(CloseCode.UNAUTHENTICATED, "not signed in")
            if consultation.status in (ConsultationStatus.ended, ConsultationStatus.cancelled):
                raise JoinRefused(CloseCode.ENDED, "the session is over")
            actor = Actor.of(user)
            try:
                role = await access.require_room_role(
                    session=session, actor=actor, consultation=consultation
                )
            except NotFound:
                # The refusal is already in the audit trail.
                raise JoinRefused(CloseCode.FORBIDDEN, "not invited") from None
            if facility_name is None:
                facility = await session.get(Facility, user.facility_id)
                facility_name = facility.name if facility else ""
            moderator = role == "moderator"
            return Identity(
                user_id=str(user.id),
                name=user.display_name,
                facility=facility_name,
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
