"""What signalling needs from the application and from a server-side media participant:
who may join (`Authorizer`), where events go (`EventSink`), and a recorder (`RecorderHook`,
or a `SignalingRecorder` that takes part in the rooms' signalling through a `RoomLink`)."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from signaling.events import RoomEvent

# The recorder's peer id in a room: clients address their offers and candidates to it.
RECORDER_ID = "recorder"


@dataclass(frozen=True, slots=True)
class Identity:
    """A participant as the application knows it."""

    user_id: str
    name: str
    facility: str = ""
    title: str = ""
    user_role: str = ""
    moderator: bool = False
    # Presents a case (the requesting doctor): may share images with the room, as moderators may.
    presenter: bool = False
    needs_admission: bool = False


class Authorizer(Protocol):
    """Decides who may open a room socket; raises `JoinRefused(close_code, reason)`."""

    async def authorize(
        self, *, room_id: str, token: str | None, session_cookie: str | None
    ) -> Identity:
        """Return the identity for this room, or raise `JoinRefused`."""
        ...


class EventSink(Protocol):
    """Receives room events in order; failures are logged and never reach peers."""

    async def publish(self, event: RoomEvent) -> None:
        """Record one event."""
        ...


class RoomControl(Protocol):
    """What the application may do to live rooms, on every server process (the registry).

    Reasons are short codes the clients show a message for: `cancelled` (ended),
    `uninvited` and `disabled` (removed)."""

    async def end_room(self, room_id: str, *, reason: str | None = None) -> None:
        """End the room for everyone (`ended`); nobody may join it any more."""
        ...

    async def reopen_room(self, room_id: str) -> None:
        """Accept joins again to an ended room (its session was reopened)."""
        ...

    async def expel_user(self, room_id: str, user_id: str, *, reason: str) -> None:
        """Remove a user from the room (`kicked`); they may not come back while it lives."""
        ...

    async def disconnect_user(self, user_id: str, *, reason: str) -> None:
        """Remove a user from every room (`kicked`)."""
        ...

    async def readmit_user(self, room_id: str, user_id: str) -> None:
        """Lift a removal's bar: the user (invited again) may join the room once more."""
        ...

    async def send_to_lobby(self, room_id: str, user_id: str) -> None:
        """Move a participant back to the lobby, to be admitted again."""
        ...


class RecorderHook(Protocol):
    """Starts and stops a recorder for a room; raising refuses the change."""

    async def start(self, room_id: str) -> None:
        """Begin recording the room."""
        ...

    async def stop(self, room_id: str) -> None:
        """Stop recording the room."""
        ...


class RoomLink(Protocol):
    """The rooms as a server-side media participant sees them."""

    def send_to_peer(self, room_id: str, peer_id: str, frame: dict[str, Any]) -> None:
        """Deliver a frame (stamped `from: recorder`) to one local peer."""
        ...

    def emit(self, event: RoomEvent) -> None:
        """Hand an event to the application's sink."""
        ...

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a coroutine in the background until done or shutdown."""
        ...

    def recording_failed(self, room_id: str, message: str) -> None:
        """The recorder gave up on a room: switch recording off and tell everyone."""
        ...

    def tell_moderators(self, room_id: str, frame: dict[str, Any]) -> None:
        """Send a frame to the room's local moderators."""
        ...


@runtime_checkable
class SignalingRecorder(Protocol):
    """A recorder that takes part in the room's signalling as the peer `recorder`."""

    async def start(self, room_id: str) -> None:
        """Begin recording the room (raising refuses it)."""
        ...

    async def stop(self, room_id: str) -> None:
        """Finish the room's recording; idempotent."""
        ...

    def bind(self, link: RoomLink) -> None:
        """Start working for a running registry."""
        ...

    async def aclose(self) -> None:
        """Finish every recording and stop (server shutdown)."""
        ...

    def signal(self, room_id: str, peer: dict[str, Any], kind: str, body: dict[str, Any]) -> None:
        """An `offer` or `candidate` from a consenting peer (`peer` is its `info()`)."""
        ...

    def withdraw(self, room_id: str, peer_id: str) -> None:
        """The peer declined, withdrew its consent or left: finish its media, if any."""
        ...
