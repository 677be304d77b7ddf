"""What the signalling server and a server-side media participant (the recorder) need from
each other, beyond `RecorderHook`: relayed signalling, consent decisions, and lifetimes."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol, runtime_checkable

from signaling.auth import RoomEvent

# The recorder's peer id in a room: clients address their offers and candidates to it.
RECORDER_ID = "recorder"
RECORDER_NAME = "Ghi hình"


def consent_request(by: str | None) -> dict[str, Any]:
    """The frame asking a peer whether it agrees to be recorded."""
    return {"type": "recording-consent-request", "recorder": RECORDER_ID, "by": by}


class RoomLink(Protocol):
    """The registry as the recorder sees it."""

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
