"""In-memory stand-ins for the application's side of signalling: an authorizer with join
tokens and session cookies, and an event sink that tests can wait on."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from signaling import CloseCode, Identity, JoinRefused, RoomEvent


@dataclass(slots=True)
class _Grant:
    room_id: str
    identity: Identity
    expires: float


@dataclass
class MemoryAuthorizer:
    """Single-use join tokens and session cookies kept in memory."""

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

    async def wait_for(
        self, kind: type[RoomEvent], count: int = 1, timeout: float = 30
    ) -> list[RoomEvent]:
        """Wait until `count` events of `kind` have arrived (at most `timeout` seconds: a test
        fails, it does not hang); return them."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(
                lambda: sum(isinstance(e, kind) for e in self.events) >= count
            )
            return [e for e in self.events if isinstance(e, kind)]
