"""What the actions of a peer and the notifications of other nodes need of the node that holds
the rooms: the `RoomRegistry` provides it, and neither side imports the other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from signaling.bus import Bus
from signaling.config import SignalingConfig
from signaling.events import RoomEvent
from signaling.ice import IceServers
from signaling.ops import Op
from signaling.ports import RecorderHook, SignalingRecorder
from signaling.room import Peer, Room
from signaling.sfu import MediaRouter


class RoomHost(Protocol):
    """The rooms of this node, their bus and their collaborators."""

    @property
    def config(self) -> SignalingConfig:
        """The signalling settings."""
        ...

    @property
    def bus(self) -> Bus:
        """The bus shared with the other nodes."""
        ...

    @property
    def rooms(self) -> Mapping[str, Room]:
        """The rooms this node knows, by id."""
        ...

    @property
    def recorder(self) -> RecorderHook | None:
        """The application's recorder hook, if any."""
        ...

    @property
    def media(self) -> SignalingRecorder | None:
        """The recorder taking part in the rooms as the peer `recorder`, if any."""
        ...

    @property
    def sfu(self) -> MediaRouter | None:
        """The media server of SFU rooms, if any."""
        ...

    @property
    def ice(self) -> IceServers:
        """The ICE servers handed to each participant."""
        ...

    def media_mode(self, room_id: str) -> str:
        """`sfu` when the room's media goes through the media server, else `mesh`."""
        ...

    def max_peers(self, room_id: str) -> int:
        """How many participants the room holds."""
        ...

    def publish(self, room_id: str, op: Op) -> None:
        """Queue a notification for the other nodes."""
        ...

    def to_bus(self, job: Callable[[], Awaitable[Any]]) -> None:
        """Queue a bus call, in order with the notifications."""
        ...

    def emit(self, event: RoomEvent) -> None:
        """Queue an event for the application's sink."""
        ...

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a coroutine in the background until done or shutdown."""
        ...

    def remove(
        self,
        room: Room,
        peer: Peer,
        reason: str,
        *,
        code: int | None = None,
        close_reason: str = "",
    ) -> None:
        """Take a peer out for good and tell everyone."""
        ...

    async def admit(self, room: Room, peer: Peer) -> None:
        """Move a local lobby peer into the room; raises RoomFull."""
        ...
