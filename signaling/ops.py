"""Notifications between the nodes of a room: one frozen dataclass per operation, and their
encoding as the bus's JSON objects (`{"op": …, "room": …, "node": …, fields…}`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from signaling.bus import PeerRecord
from signaling.frames import Frame


@dataclass(frozen=True, slots=True)
class PeerSeen:
    """A peer of the sender joined, changed its state or status, or is announced again."""

    name: ClassVar[str] = "peer"
    peer: PeerRecord


@dataclass(frozen=True, slots=True)
class PeerGone:
    """A peer of the sender left for good."""

    name: ClassVar[str] = "left"
    peer_id: str
    reason: str = "left"


@dataclass(frozen=True, slots=True)
class Relay:
    """A frame for one peer held by another node."""

    name: ClassVar[str] = "relay"
    to: str
    frame: Frame


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A frame for every active peer of the room (chat, consent decisions)."""

    name: ClassVar[str] = "broadcast"
    frame: Frame


@dataclass(frozen=True, slots=True)
class RecordingSwitched:
    """Recording went on or off: the frame to show, and the consent request when it went on."""

    name: ClassVar[str] = "recording"
    on: bool
    frame: Frame
    request: Frame | None = None


@dataclass(frozen=True, slots=True)
class Spotlight:
    """A moderator put a peer's camera or screen on everyone's stage (`peer_id` None: off)."""

    name: ClassVar[str] = "spotlight"
    peer_id: str | None = None
    kind: str = "camera"
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Hello:
    """The sender lost the bus for a while: re-announce your peers and resync your clients."""

    name: ClassVar[str] = "hello"


@dataclass(frozen=True, slots=True)
class Ended:
    """The session was ended (`by` None when the application ended it, with its `reason`)."""

    name: ClassVar[str] = "ended"
    by: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Kick:
    """A moderator (or the application, with a `reason`) removed a user: close their peers."""

    name: ClassVar[str] = "kick"
    user_id: str
    by: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ToLobby:
    """A moderator (or the application) sent a user back to the lobby: move their peers."""

    name: ClassVar[str] = "to-lobby"
    user_id: str
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The application disconnected a user from every room (sent with an empty room id)."""

    name: ClassVar[str] = "disconnect"
    user_id: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Admit:
    """A moderator let a waiting peer of the receiving node in."""

    name: ClassVar[str] = "admit"
    to: str
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Deny:
    """A moderator refused a waiting peer of the receiving node."""

    name: ClassVar[str] = "deny"
    to: str
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Replace:
    """The same participant connected to the sender: close the obsolete peer."""

    name: ClassVar[str] = "replace"
    to: str


Op = (
    PeerSeen
    | PeerGone
    | Relay
    | Broadcast
    | RecordingSwitched
    | Hello
    | Ended
    | Kick
    | ToLobby
    | Disconnect
    | Admit
    | Deny
    | Replace
    | Spotlight
)

OPS: dict[str, type[Op]] = {
    kind.name: kind
    for kind in (
        PeerSeen,
        PeerGone,
        Relay,
        Broadcast,
        RecordingSwitched,
        Hello,
        Ended,
        Kick,
        ToLobby,
        Disconnect,
        Admit,
        Deny,
        Replace,
        Spotlight,
    )
}
_FIELDS = {kind: tuple(f.name for f in fields(kind)) for kind in OPS.values()}


def encode(op: Op, *, room_id: str, node: str) -> dict[str, Any]:
    """The bus message for `op` in a room, from a node (fields that are None are left out)."""
    message: dict[str, Any] = {"op": op.name, "room": room_id, "node": node}
    for name in _FIELDS[type(op)]:
        value = getattr(op, name)
        if value is not None:
            message[name] = value
    return message


def decode(message: Mapping[str, Any]) -> Op | None:
    """The operation a bus message carries; None for an operation this node does not know.

    Messages come from other nodes of this deployment, so their fields are trusted."""
    kind = OPS.get(str(message.get("op")))
    if kind is None:
        return None
    return kind(**{name: message[name] for name in _FIELDS[kind] if name in message})
