"""What the application injects: who may join (Authorizer), where events go (EventSink),
and an optional recorder hook; with small in-memory implementations."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from signaling.errors import CloseCode, JoinRefused


@dataclass(frozen=True, slots=True)
class Identity:
    """A participant as the application knows it."""

    user_id: str
    name: str
    facility: str = ""
    title: str = ""
    user_role: str = ""
    moderator: bool = False
    needs_admission: bool = False


class Authorizer(Protocol):
    """Decides who may open a room socket; raises `JoinRefused(close_code, reason)`."""

    async def authorize(
        self, *, room_id: str, token: str | None, session_cookie: str | None
    ) -> Identity:
        """Return the identity for this room, or raise `JoinRefused`."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomEvent:
    """Something the application records; `time` is UTC-aware."""

    room_id: str
    user_id: str | None
    peer_id: str | None
    time: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerJoined(RoomEvent):
    """A peer entered the room (after the lobby, if any): an attendance interval opens."""

    name: str
    facility: str
    role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerLeft(RoomEvent):
    """A peer left for good (`left`, `timeout`, `kicked`, `replaced`, `ended`, `shutdown`)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatPosted(RoomEvent):
    """A chat line, as broadcast."""

    chat_id: str
    name: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(RoomEvent):
    """A peer's media state after a change."""

    audio: bool
    video: bool
    hand: bool
    screen: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingChanged(RoomEvent):
    """Recording was switched on or off."""

    on: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingConsent(RoomEvent):
    """A participant accepted or declined being recorded."""

    name: str
    accept: bool


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """One participant's recorded media: a file with audio and/or video."""

    peer_id: str
    user_id: str
    name: str
    facility: str
    path: Path
    started: datetime
    ended: datetime
    duration: float
    audio: bool
    video: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished(RoomEvent):
    """A recording was finalised: one file per consenting participant (and segment).

    `user_id`/`peer_id` are None; `failed` lists what could not be saved, as messages."""

    started: datetime
    ended: datetime
    files: tuple[RecordedFile, ...]
    failed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomEnded(RoomEvent):
    """The session was ended (by a moderator, or by the application when `user_id` is None)."""


class EventSink(Protocol):
    """Receives room events in order; failures are logged and never reach peers."""

    async def publish(self, event: RoomEvent) -> None:
        """Record one event."""
        ...


class RecorderHook(Protocol):
    """Starts and stops a recorder for a room; raising refuses the change."""

    async def start(self, room_id: str) -> None:
        """Begin recording the room."""
        ...

    async def stop(self, room_id: str) -> None:
        """Stop recording the room."""
        ...


def utcnow() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(UTC)


@dataclass(slots=True)
class _Grant:
    room_id: str
    identity: Identity
    expires: float


@dataclass
class MemoryAuthorizer:
    """Single-use join tokens and session cookies kept in memory (tests, demos)."""

    rooms: set[str] = field(default_factory=set)
    token_ttl: float = 300.0
    _tokens: dict[str, _Grant] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)
    _sessions: dict[str, tuple[Identity, frozenset[str]]] = field(default_factory=dict)

    def issue(self, room_id: str, identity: Identity, *, ttl: float | None = None) -> str:
        """A single-use join token for one room."""
        self.rooms.add(room_id)
        token = secrets.token_urlsafe(18)
        expires = time.monotonic() + (self.token_ttl if ttl is None else ttl)
        self._tokens[token] = _Grant(room_id, identity, expires)
        return token

    def login(self, identity: Identity, rooms: set[str]) -> str:
        """A session cookie value allowing the given rooms."""
        self.rooms |= rooms
        cookie = secrets.token_urlsafe(18)
        self._sessions[cookie] = (identity, frozenset(rooms))
        return cookie

    async def authorize(
        self, *, room_id: str, token: str | None, session_cookie: str | None
    ) -> Identity:
        """Consume a token, or read the session; raise `JoinRefused` otherwise."""
        if room_id not in self.rooms:
            raise JoinRefused(CloseCode.UNKNOWN_ROOM, "unknown room")
        if token is not None:
            if token in self._used:
                raise JoinRefused(CloseCode.UNAUTHENTICATED, "token already used")
            grant = self._tokens.pop(token, None)
            if grant is None:
                raise JoinRefused(CloseCode.UNAUTHENTICATED, "unknown token")
            self._used.add(token)
            if grant.expires < time.monotonic():
                raise JoinRefused(CloseCode.UNAUTHENTICATED, "token expired")
            if grant.room_id != room_id:
                raise JoinRefused(CloseCode.FORBIDDEN, "token is for another room")
            return grant.identity
        if session_cookie is not None and session_cookie in self._sessions:
            identity, allowed = self._sessions[session_cookie]
            if room_id not in allowed:
                raise JoinRefused(CloseCode.FORBIDDEN, "not invited to this room")
            return identity
        raise JoinRefused(CloseCode.UNAUTHENTICATED, "no token or session")


class MemoryEventSink:
    """Keeps every event in a list, and lets tests wait for one."""

    def __init__(self) -> None:
        self.events: list[RoomEvent] = []
        self._changed = asyncio.Condition()

    async def publish(self, event: RoomEvent) -> None:
        """Append the event."""
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def wait_for(self, kind: type[RoomEvent], count: int = 1) -> list[RoomEvent]:
        """Wait until `count` events of `kind` have arrived; return them."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: sum(isinstance(e, kind) for e in self.events) >= count
            )
            return [e for e in self.events if isinstance(e, kind)]
