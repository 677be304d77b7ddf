"""Rooms and peers: the domain, free of aiohttp. Every method here is synchronous, so a
change and the notifications it causes happen without interleaving."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any, Protocol

from signaling import frames
from signaling.bus import PeerRecord
from signaling.ports import Identity

MODERATOR = "moderator"
PARTICIPANT = "participant"
LOBBY = "lobby"
ACTIVE = "active"


class Outlet(Protocol):
    """One client connection as the domain sees it: queue a frame, or close."""

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame; never blocks."""
        ...

    def close(self, code: int, reason: str) -> None:
        """Send a close frame after what is queued; idempotent."""
        ...


def resume_hash(token: str) -> str:
    """The digest of a resume token that presence records carry."""
    return hashlib.sha256(token.encode()).hexdigest()


class Peer:
    """A participant in a room: local (it has a connection here) or remote (another node)."""

    __slots__ = (
        "peer_id",
        "room_id",
        "user_id",
        "name",
        "facility",
        "title",
        "user_role",
        "role",
        "presenter",
        "status",
        "node",
        "local",
        "audio",
        "video",
        "hand",
        "screen",
        "resume_token",
        "resume_hash",
        "moves",
        "outlet",
        "pending",
        "pending_limit",
        "overflowed",
        "known",
        "grace",
        "closed",
    )

    def __init__(
        self,
        *,
        peer_id: str,
        user_id: str,
        name: str,
        facility: str = "",
        title: str = "",
        user_role: str = "",
        role: str = PARTICIPANT,
        presenter: bool = False,
        status: str = ACTIVE,
        node: str,
        local: bool,
        pending_limit: int = 256,
    ) -> None:
        self.peer_id = peer_id
        self.room_id = ""
        self.user_id = user_id
        self.name = name
        self.facility = facility
        self.title = title
        self.user_role = user_role
        self.role = role
        self.presenter = presenter
        self.status = status
        self.node = node
        self.local = local
        self.audio = True
        self.video = True
        self.hand = False
        self.screen = False
        self.resume_token = secrets.token_urlsafe(24) if local else None
        # What the presence record carries instead of the token: another node checks a
        # returning client's token against it when this node is gone.
        self.resume_hash = resume_hash(self.resume_token) if self.resume_token else ""
        # How many times the place moved to another node: the newest holder wins.
        self.moves = 0
        self.outlet: Outlet | None = None
        self.pending: list[dict[str, Any]] = []
        self.pending_limit = pending_limit
        self.overflowed = False
        self.known: set[str] = set()
        self.grace: asyncio.TimerHandle | None = None
        self.closed = False

    @classmethod
    def local_from(
        cls, identity: Identity, *, role: str, status: str, node: str, pending_limit: int
    ) -> Peer:
        """A new peer for a connection on this node."""
        return cls(
            peer_id="p" + secrets.token_hex(6),
            user_id=identity.user_id,
            name=identity.name,
            facility=identity.facility,
            title=identity.title,
            user_role=identity.user_role,
            role=role,
            presenter=identity.presenter,
            status=status,
            node=node,
            local=True,
            pending_limit=pending_limit,
        )

    @classmethod
    def from_record(cls, record: PeerRecord) -> Peer:
        """A peer held by another node."""
        peer = cls(
            peer_id=str(record["peer_id"]),
            user_id=str(record["user_id"]),
            name=str(record.get("name", "")),
            facility=str(record.get("facility", "")),
            title=str(record.get("title", "")),
            user_role=str(record.get("user_role", "")),
            role=str(record.get("role", PARTICIPANT)),
            presenter=record.get("presenter") is True,
            status=str(record.get("status", ACTIVE)),
            node=str(record["node"]),
            local=False,
        )
        peer.room_id = str(record.get("room_id", ""))
        peer.update(record)
        return peer

    @property
    def moderator(self) -> bool:
        """Whether this peer may admit, deny, mute, kick, end and record."""
        return self.role == MODERATOR

    @property
    def may_present(self) -> bool:
        """Whether this peer may share its view of the case's images with the room."""
        return self.moderator or self.presenter

    @property
    def connected(self) -> bool:
        """Whether a socket is attached (False during the grace period)."""
        return self.outlet is not None

    def update(self, record: PeerRecord) -> None:
        """Take media state and status from another node's record."""
        for name in ("audio", "video", "hand", "screen"):
            value = record.get(name)
            if isinstance(value, bool):
                setattr(self, name, value)
        self.status = str(record.get("status", self.status))
        self.role = str(record.get("role", self.role))
        # A peer that resumed on another node lives there now.
        self.node = str(record.get("node", self.node))
        self.resume_hash = str(record.get("resume", self.resume_hash))
        moves = record.get("moves")
        if isinstance(moves, int):
            self.moves = moves

    def info(self) -> dict[str, Any]:
        """The public description other peers see."""
        return {
            "peer_id": self.peer_id,
            "user_id": self.user_id,
            "name": self.name,
            "facility": self.facility,
            "title": self.title,
            "user_role": self.user_role,
            "role": self.role,
            "presenter": self.presenter,
            "audio": self.audio,
            "video": self.video,
            "hand": self.hand,
            "screen": self.screen,
        }

    def lobby_info(self) -> dict[str, Any]:
        """How a waiting peer is shown to moderators."""
        return {
            "peer_id": self.peer_id,
            "user_id": self.user_id,
            "name": self.name,
            "facility": self.facility,
            "title": self.title,
            "user_role": self.user_role,
        }

    def record(self) -> PeerRecord:
        """The presence record stored on the bus."""
        return {
            **self.info(),
            "status": self.status,
            "node": self.node,
            "resume": self.resume_hash,
            "moves": self.moves,
        }

    def state(self) -> dict[str, bool]:
        """The media state fields."""
        return {"audio": self.audio, "video": self.video, "hand": self.hand, "screen": self.screen}

    def send(self, frame: dict[str, Any]) -> None:
        """Deliver now, or keep for a resume while the socket is away."""
        if self.closed or not self.local:
            return
        if self.outlet is not None:
            self.outlet.send(frame)
        elif len(self.pending) < self.pending_limit:
            self.pending.append(frame)
        else:
            self.overflowed = True

    def take_over(self, *, node: str, token: str) -> None:
        """Become this node's peer: its process died and its client came back here."""
        self.local = True
        self.node = node
        self.resume_token = token
        self.moves += 1
        self.pending = []

    def attach(self, outlet: Outlet) -> None:
        """Bind a (new) connection, flush what was kept, stop the grace timer."""
        self.cancel_grace()
        self.outlet = outlet
        pending, self.pending = self.pending, []
        for frame in pending:
            outlet.send(frame)

    def cancel_grace(self) -> None:
        """Stop the grace timer, if any."""
        if self.grace is not None:
            self.grace.cancel()
            self.grace = None

    def close(self, code: int | None = None, reason: str = "") -> None:
        """Forget the connection (closing it with `code` if given); idempotent."""
        if self.closed:
            return
        self.closed = True
        self.cancel_grace()
        outlet, self.outlet = self.outlet, None
        if outlet is not None and code is not None:
            outlet.close(code, reason)
        self.pending.clear()
        self.known.clear()


class Room:
    """Everyone this node knows in one room: its local peers and the other nodes' peers."""

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self.peers: dict[str, Peer] = {}
        self.departed: set[str] = set()
        self.moderators: set[str] = set()
        self.recording = False
        # Recording consent decisions of this recording, by peer id; cleared when it starts.
        self.consents: dict[str, bool] = {}
        # What the chair put on everyone's stage: {"peer_id", "kind", "by"}, or None.
        self.spotlight: dict[str, Any] | None = None
        # The imaging view being shared (the last `imaging-view` frame), for late joiners;
        # held in memory only, never stored.
        self.imaging: dict[str, Any] | None = None
        self.closed = False
        self.join_lock = asyncio.Lock()

    def local(self) -> list[Peer]:
        """Peers with a connection (or a grace period) on this node."""
        return [p for p in self.peers.values() if p.local]

    def active(self) -> list[Peer]:
        """Peers past the lobby."""
        return [p for p in self.peers.values() if p.status == ACTIVE]

    def waiting(self) -> list[Peer]:
        """Peers in the lobby."""
        return [p for p in self.peers.values() if p.status == LOBBY]

    def by_user(self, user_id: str) -> list[Peer]:
        """This user's local peers."""
        return [p for p in self.local() if p.user_id == user_id]

    @property
    def empty(self) -> bool:
        """No peer left, here or elsewhere."""
        return not self.peers

    def broadcast(self, frame: dict[str, Any], *, exclude: str | None = None) -> None:
        """Send to every local active peer (except `exclude`)."""
        for peer in self.local():
            if peer.status == ACTIVE and peer.peer_id != exclude:
                peer.send(frame)

    def announce_joined(self, newcomer: Peer) -> None:
        """Tell local active peers about a newcomer they have not heard of."""
        for peer in self.local():
            if (
                peer.status == ACTIVE
                and peer is not newcomer
                and newcomer.peer_id not in peer.known
            ):
                peer.known.add(newcomer.peer_id)
                peer.send(frames.peer_joined(newcomer.info()))

    def announce_left(self, peer_id: str, reason: str) -> None:
        """Tell local peers who knew the peer that it left."""
        if self.spotlight is not None and self.spotlight["peer_id"] == peer_id:
            # Clients fall back on their own when the tile goes; late joiners must not see it.
            self.spotlight = None
        for peer in self.local():
            if peer_id in peer.known:
                peer.known.discard(peer_id)
                peer.send(frames.peer_left(peer_id, reason))

    def to_moderators(self, frame: dict[str, Any]) -> None:
        """Send to every local active moderator."""
        for peer in self.local():
            if peer.status == ACTIVE and peer.moderator:
                peer.send(frame)

    def lobby_update(self) -> None:
        """Show local moderators who is waiting."""
        self.to_moderators(frames.lobby_update([p.lobby_info() for p in self.waiting()]))

    def sync(self, peer: Peer) -> None:
        """Send a full `peers` list to one local peer and reset what it knows."""
        others = [p for p in self.active() if p is not peer]
        peer.known = {p.peer_id for p in others}
        peer.send(frames.peers([p.info() for p in others], recording=self.recording))

    def close(self) -> None:
        """Forget every peer; idempotent."""
        if self.closed:
            return
        self.closed = True
        for peer in list(self.peers.values()):
            peer.close()
        self.peers.clear()
        self.departed.clear()
