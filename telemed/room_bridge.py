"""The bridge between signalling and the records: who may join a room, and what to remember."""

from __future__ import annotations

import logging
import uuid

from records.actor import ReadPolicy
from records.db import SessionMaker
from records.services import room_admission, room_events
from records.services.room_admission import RoomRefusal
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

from .settings import Settings

log = logging.getLogger(__name__)

# How each refusal closes the socket, with the reason the client sees.
_REFUSALS: dict[RoomRefusal, tuple[CloseCode, str]] = {
    RoomRefusal.unknown_room: (CloseCode.UNKNOWN_ROOM, "unknown room"),
    RoomRefusal.bad_token: (CloseCode.UNAUTHENTICATED, "invalid, expired or used token"),
    RoomRefusal.signed_out: (CloseCode.UNAUTHENTICATED, "not signed in"),
    RoomRefusal.ended: (CloseCode.ENDED, "the session is over"),
    RoomRefusal.not_invited: (CloseCode.FORBIDDEN, "not invited"),
}


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
            entry = await room_admission.admit(
                session=session,
                room_id=room_id,
                token=token,
                session_cookie=session_cookie,
                policy=self._policy,
            )
        if isinstance(entry, RoomRefusal):
            code, reason = _REFUSALS[entry]
            raise JoinRefused(code, reason)
        user = entry.user
        return Identity(
            user_id=str(user.id),
            name=user.display_name,
            facility=entry.facility_name,
            title=user.title,
            user_role=str(user.role),
            moderator=entry.moderator,
            presenter=entry.presenter,
            needs_admission=entry.needs_admission,
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
