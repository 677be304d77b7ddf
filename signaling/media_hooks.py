"""What the signalling server needs from a server-side media participant (the recorder),
beyond `RecorderHook`: signalling relayed to it, consent decisions, and its lifetime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from signaling.errors import SignalingError

if TYPE_CHECKING:
    from signaling.registry import RoomRegistry

# The recorder's peer id in a room: clients address their offers and candidates to it.
RECORDER_ID = "recorder"
RECORDER_NAME = "Ghi hình"


class NotRecording(SignalingError):
    """A recording message arrived while the room is not being recorded."""

    code = "not-recording"


class ConsentRequired(SignalingError):
    """Media was offered to the recorder by a peer who has not consented."""

    code = "consent-required"


@runtime_checkable
class SignalingRecorder(Protocol):
    """A recorder that takes part in the room's signalling as the peer `recorder`."""

    async def start(self, room_id: str) -> None:
        """Begin recording the room."""
        ...

    async def stop(self, room_id: str) -> None:
        """Stop recording the room."""
        ...

    def bind(self, registry: RoomRegistry) -> None:
        """Start working for a running registry."""
        ...

    async def aclose(self) -> None:
        """Finish every recording and stop (server shutdown)."""
        ...

    def signal(self, room_id: str, peer: dict[str, Any], kind: str,
               body: dict[str, Any]) -> None:
        """An `offer` or `candidate` from a consenting peer (its `info()`)."""
        ...

    def consent(self, room_id: str, peer_id: str, accept: bool) -> None:
        """A peer's consent decision; a withdrawal ends its recording."""
        ...
