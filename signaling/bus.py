"""The message bus between server processes: the `Bus` protocol and the in-process `LocalBus`.

A bus carries notifications (`publish`) and a small ephemeral presence store (who is in which
room, who was kicked, which rooms ended) that makes joining atomic across processes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

PeerRecord = dict[str, Any]
OnMessage = Callable[[dict[str, Any]], None]
OnResync = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Entry:
    """The outcome of entering a room: `ok`, `full`, `kicked` or `ended`, and who is there."""

    outcome: str
    present: list[PeerRecord] = field(default_factory=list)
    recording: bool = False


class Bus(Protocol):
    """What the registry needs from a bus."""

    node_id: str

    async def start(self, on_message: OnMessage, on_resync: OnResync) -> None:
        """Connect and deliver other nodes' messages to `on_message`."""
        ...

    async def close(self) -> None:
        """Disconnect; idempotent."""
        ...

    async def publish(self, messages: Sequence[dict[str, Any]]) -> None:
        """Send notifications, in this order, to every other node."""
        ...

    async def enter(
        self, room_id: str, record: PeerRecord, *, active: bool, max_peers: int
    ) -> Entry:
        """Atomically check the room (ended, kicked, full) and store the peer's record."""
        ...

    async def put(self, room_id: str, record: PeerRecord) -> None:
        """Update a stored record."""
        ...

    async def remove(self, room_id: str, peer_id: str) -> None:
        """Forget a peer; an empty room forgets its kicked users."""
        ...

    async def members(self, room_id: str) -> list[PeerRecord]:
        """Every stored record of the room, on live nodes."""
        ...

    async def barred(self, room_id: str, user_id: str) -> str | None:
        """`ended` or `kicked` when the user may not join, else None."""
        ...

    async def kick(self, room_id: str, user_id: str) -> None:
        """Bar a user from the room while it lives."""
        ...

    async def unbar(self, room_id: str, user_id: str) -> None:
        """Lift a user's bar from the room (invited again)."""
        ...

    async def end(self, room_id: str, ttl: float) -> None:
        """Mark the room ended for `ttl` seconds and forget its presence."""
        ...

    async def reopen(self, room_id: str) -> None:
        """Lift the room's end: joins are accepted again."""
        ...

    async def set_recording(self, room_id: str, on: bool) -> None:
        """Store the room's recording flag."""
        ...

    async def heartbeat(self, ttl: float) -> None:
        """Prove this node alive for `ttl` seconds."""
        ...

    async def restore(self, rooms: dict[str, list[PeerRecord]]) -> None:
        """Re-store these peers and renew their rooms' lifetime (heals a restarted store)."""
        ...

    async def live_nodes(self, nodes: Iterable[str]) -> set[str]:
        """Which of these nodes are alive."""
        ...


@dataclass
class _RoomStore:
    peers: dict[str, PeerRecord] = field(default_factory=dict)
    kicked: set[str] = field(default_factory=set)
    recording: bool = False


class LocalHub:
    """In-process presence and fan-out shared by the `LocalBus`es of one process."""

    def __init__(self) -> None:
        self.rooms: dict[str, _RoomStore] = {}
        self.ended: dict[str, float] = {}
        self.nodes: dict[str, OnMessage] = {}


class LocalBus:
    """The bus for a single process (several registries may share one hub in tests)."""

    def __init__(self, hub: LocalHub | None = None) -> None:
        self.hub = hub or LocalHub()
        self.node_id = "n" + secrets.token_hex(4)

    async def start(self, on_message: OnMessage, on_resync: OnResync) -> None:
        """Join the hub."""
        self.hub.nodes[self.node_id] = on_message

    async def close(self) -> None:
        """Leave the hub."""
        self.hub.nodes.pop(self.node_id, None)

    async def publish(self, messages: Sequence[dict[str, Any]]) -> None:
        """Deliver to the other nodes of the hub, in order."""
        loop = asyncio.get_running_loop()
        for message in messages:
            for node, handler in self.hub.nodes.items():
                if node != self.node_id:
                    loop.call_soon(handler, message)

    def _ended(self, room_id: str) -> bool:
        until = self.hub.ended.get(room_id)
        if until is not None and until < time.monotonic():
            del self.hub.ended[room_id]
            return False
        return until is not None

    async def enter(
        self, room_id: str, record: PeerRecord, *, active: bool, max_peers: int
    ) -> Entry:
        """Check and store, atomically (nothing awaits in between)."""
        if self._ended(room_id):
            return Entry("ended")
        store = self.hub.rooms.get(room_id) or _RoomStore()
        if record["user_id"] in store.kicked:
            return Entry("kicked")
        present = [r for pid, r in store.peers.items() if pid != record["peer_id"]]
        if active and sum(r["status"] == "active" for r in present) >= max_peers:
            return Entry("full")
        self.hub.rooms[room_id] = store
        store.peers[record["peer_id"]] = dict(record)
        return Entry("ok", [dict(r) for r in present], store.recording)

    async def put(self, room_id: str, record: PeerRecord) -> None:
        """Update a stored record."""
        store = self.hub.rooms.get(room_id)
        if store is not None:
            store.peers[record["peer_id"]] = dict(record)

    async def remove(self, room_id: str, peer_id: str) -> None:
        """Forget a peer, and the room with it when it was the last."""
        store = self.hub.rooms.get(room_id)
        if store is not None:
            store.peers.pop(peer_id, None)
            if not store.peers:
                del self.hub.rooms[room_id]

    async def members(self, room_id: str) -> list[PeerRecord]:
        """Every stored record of the room."""
        store = self.hub.rooms.get(room_id)
        return [dict(r) for r in store.peers.values()] if store else []

    async def barred(self, room_id: str, user_id: str) -> str | None:
        """`ended`, `kicked` or None."""
        if self._ended(room_id):
            return "ended"
        store = self.hub.rooms.get(room_id)
        return "kicked" if store is not None and user_id in store.kicked else None

    async def kick(self, room_id: str, user_id: str) -> None:
        """Bar the user while the room lives."""
        store = self.hub.rooms.get(room_id)
        if store is not None:
            store.kicked.add(user_id)

    async def unbar(self, room_id: str, user_id: str) -> None:
        """Forget the user's bar."""
        store = self.hub.rooms.get(room_id)
        if store is not None:
            store.kicked.discard(user_id)

    async def end(self, room_id: str, ttl: float) -> None:
        """Mark ended and forget presence."""
        self.hub.ended[room_id] = time.monotonic() + ttl
        self.hub.rooms.pop(room_id, None)

    async def reopen(self, room_id: str) -> None:
        """Forget the end."""
        self.hub.ended.pop(room_id, None)

    async def set_recording(self, room_id: str, on: bool) -> None:
        """Store the flag."""
        store = self.hub.rooms.get(room_id)
        if store is not None:
            store.recording = on

    async def heartbeat(self, ttl: float) -> None:
        """Nothing to refresh in memory."""

    async def restore(self, rooms: dict[str, list[PeerRecord]]) -> None:
        """Nothing is lost in memory."""

    async def live_nodes(self, nodes: Iterable[str]) -> set[str]:
        """Nodes still attached to the hub."""
        return {n for n in nodes if n in self.hub.nodes}
