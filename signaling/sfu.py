"""Rooms whose media goes through a selective forwarding unit: what the rooms need of it
(`MediaRouter`, implemented by `signaling.media.sfu` on Janus), what it needs of the rooms
(`SfuLink`), and the actions behind the `sfu-*` client messages. Browsers never talk to the
SFU: the server relays their session descriptions."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from signaling.errors import InLobby, NotInRoom, NotSfu
from signaling.room import ACTIVE, Peer, Room

MESH = "mesh"
SFU = "sfu"
# The two connections a browser has with the SFU.
PUBLISH = "publish"
SUBSCRIBE = "subscribe"


class SfuLink(Protocol):
    """The rooms as the SFU side sees them."""

    def deliver(self, room_id: str, peer_id: str, frame: dict[str, Any]) -> None:
        """Send a frame to one local active peer (dropped when it has gone)."""
        ...

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a coroutine in the background until done or shutdown."""
        ...


class MediaRouter(Protocol):
    """Places rooms on an SFU and keeps each local participant's publisher and subscriber."""

    @property
    def max_peers(self) -> int:
        """How many participants an SFU room holds."""
        ...

    def mode(self, room_id: str) -> str:
        """`sfu` or `mesh` for this room."""
        ...

    def bind(self, link: SfuLink) -> None:
        """Start working for a running registry."""
        ...

    async def aclose(self) -> None:
        """Leave every room and disconnect (server shutdown)."""
        ...

    def joined(self, room_id: str, peer: dict[str, Any]) -> None:
        """A local peer is in the room (after `welcome`): give it a place on the SFU."""
        ...

    def left(self, room_id: str, peer_id: str, *, kicked: bool = False) -> None:
        """A local peer left, went back to the lobby or was removed: take it off the SFU."""
        ...

    def room_closed(self, room_id: str) -> None:
        """Nobody is left here (or the room ended): take the room off the SFU."""
        ...

    def publish(self, room_id: str, peer_id: str, sdp: str) -> None:
        """The peer's offer for what it sends; answered with `sfu-published`."""
        ...

    def subscribed(self, room_id: str, peer_id: str, sdp: str) -> None:
        """The peer's answer to the last `sfu-subscribe`."""
        ...

    def candidate(
        self, room_id: str, peer_id: str, pc: str, candidate: dict[str, Any] | None
    ) -> None:
        """A trickled ICE candidate of the peer's `publish` or `subscribe` connection."""
        ...


def _sfu_peer(rooms: dict[str, Room], router: MediaRouter | None, peer: Peer) -> Room:
    room = rooms.get(peer.room_id)
    if room is None or room.peers.get(peer.peer_id) is not peer:
        raise NotInRoom("you are no longer in the room")
    if peer.status != ACTIVE:
        raise InLobby("wait until a moderator admits you")
    if router is None or router.mode(room.room_id) != SFU:
        raise NotSfu("this room is a mesh: signal the other peers directly")
    return room


def publish(rooms: dict[str, Room], router: MediaRouter | None, peer: Peer, sdp: str) -> None:
    """`sfu-publish`: hand the peer's offer to the SFU."""
    room = _sfu_peer(rooms, router, peer)
    assert router is not None
    router.publish(room.room_id, peer.peer_id, sdp)


def subscribed(rooms: dict[str, Room], router: MediaRouter | None, peer: Peer, sdp: str) -> None:
    """`sfu-subscribed`: hand the peer's answer to the SFU."""
    room = _sfu_peer(rooms, router, peer)
    assert router is not None
    router.subscribed(room.room_id, peer.peer_id, sdp)


def candidate(
    rooms: dict[str, Room],
    router: MediaRouter | None,
    peer: Peer,
    pc: str,
    value: dict[str, Any] | None,
) -> None:
    """`sfu-candidate`: trickle one of the peer's candidates to the SFU."""
    room = _sfu_peer(rooms, router, peer)
    assert router is not None
    router.candidate(room.room_id, peer.peer_id, pc, value)
