"""Client messages: pure parsing and validation into frozen dataclasses (server frames are
built in `signaling.frames`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from signaling.errors import BadMessage, MsgId, UnknownType

MAX_ID = 64
MAX_TOKEN = 256
MAX_SDP = 60_000
MAX_CANDIDATE = 2_048
MAX_CHAT = 2_000
MEDIA_KINDS = ("audio", "video")
SPOTLIGHT_KINDS = ("camera", "screen")


@dataclass(frozen=True, slots=True)
class Join:
    """Enter the room, or resume a dropped peer with its token."""

    resume_token: str | None = None
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Offer:
    """An SDP offer for one peer."""

    to: str
    sdp: str
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Answer:
    """An SDP answer for one peer."""

    to: str
    sdp: str
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A trickled ICE candidate for one peer; `None` marks the end of candidates."""

    to: str
    candidate: dict[str, Any] | None
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class State:
    """A change of the sender's audio, video, raised hand or screen sharing."""

    audio: bool | None = None
    video: bool | None = None
    hand: bool | None = None
    screen: bool | None = None
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Chat:
    """A chat line for everyone in the room."""

    text: str
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Ping:
    """An application-level keepalive; answered with `pong`."""

    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Leave:
    """Leave the room now, without a grace period."""

    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Admit:
    """Moderator: let a waiting peer in."""

    peer_id: str
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Deny:
    """Moderator: refuse a waiting peer."""

    peer_id: str
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Mute:
    """Moderator: ask a peer to turn off its audio or video."""

    peer_id: str
    kind: str = "audio"
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Kick:
    """Moderator: remove a peer; its user may not come back while the room lives."""

    peer_id: str
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class SendToLobby:
    """Moderator: send an admitted peer back to the lobby (bring it back with `admit`)."""

    peer_id: str
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class End:
    """Moderator: end the session for everyone."""

    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Record:
    """Moderator: start or stop recording."""

    on: bool
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class Spotlight:
    """Moderator: show one peer's camera or screen on everyone's stage (`peer_id` None clears)."""

    peer_id: str | None
    kind: str = "camera"
    id: MsgId = None


@dataclass(frozen=True, slots=True)
class RecordingConsent:
    """A participant's answer to `recording-consent-request` (may change it later)."""

    accept: bool
    id: MsgId = None


ClientMessage = (
    Join
    | Offer
    | Answer
    | Candidate
    | State
    | Chat
    | Ping
    | Leave
    | Admit
    | Deny
    | Mute
    | Kick
    | SendToLobby
    | End
    | Record
    | Spotlight
    | RecordingConsent
)


def _missing(name: str, msg_id: MsgId) -> BadMessage:
    return BadMessage(f"missing field '{name}'", msg_id=msg_id)


def _str(data: Mapping[str, Any], name: str, limit: int, msg_id: MsgId) -> str:
    if name not in data:
        raise _missing(name, msg_id)
    value = data[name]
    if not isinstance(value, str):
        raise BadMessage(f"field '{name}' must be a string", msg_id=msg_id)
    if not value or len(value) > limit:
        raise BadMessage(f"field '{name}' must be 1 to {limit} characters", msg_id=msg_id)
    return value


def _opt_str(data: Mapping[str, Any], name: str, limit: int, msg_id: MsgId) -> str | None:
    if data.get(name) is None:
        return None
    return _str(data, name, limit, msg_id)


def _bool(data: Mapping[str, Any], name: str, msg_id: MsgId) -> bool:
    if name not in data:
        raise _missing(name, msg_id)
    value = data[name]
    if not isinstance(value, bool):
        raise BadMessage(f"field '{name}' must be true or false", msg_id=msg_id)
    return value


def _opt_bool(data: Mapping[str, Any], name: str, msg_id: MsgId) -> bool | None:
    if data.get(name) is None:
        return None
    return _bool(data, name, msg_id)


def _candidate(data: Mapping[str, Any], msg_id: MsgId) -> dict[str, Any] | None:
    if "candidate" not in data:
        raise _missing("candidate", msg_id)
    raw = data["candidate"]
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadMessage("field 'candidate' must be an object or null", msg_id=msg_id)
    out: dict[str, Any] = {"candidate": _str(raw, "candidate", MAX_CANDIDATE, msg_id)}
    mid = raw.get("sdpMid")
    if mid is not None and not (isinstance(mid, str) and len(mid) <= MAX_ID):
        raise BadMessage("field 'sdpMid' must be a short string", msg_id=msg_id)
    index = raw.get("sdpMLineIndex")
    if index is not None and not (
        isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 1024
    ):
        raise BadMessage("field 'sdpMLineIndex' must be a small integer", msg_id=msg_id)
    ufrag = raw.get("usernameFragment")
    if ufrag is not None and not (isinstance(ufrag, str) and len(ufrag) <= 256):
        raise BadMessage("field 'usernameFragment' must be a short string", msg_id=msg_id)
    out.update(sdpMid=mid, sdpMLineIndex=index)
    if ufrag is not None:
        out["usernameFragment"] = ufrag
    return out


def _kind(data: Mapping[str, Any], msg_id: MsgId) -> str:
    kind = data.get("kind", "audio")
    if kind not in MEDIA_KINDS:
        raise BadMessage("field 'kind' must be 'audio' or 'video'", msg_id=msg_id)
    return str(kind)


def _spot_kind(data: Mapping[str, Any], msg_id: MsgId) -> str:
    kind = data.get("kind", "camera")
    if kind not in SPOTLIGHT_KINDS:
        raise BadMessage("field 'kind' must be 'camera' or 'screen'", msg_id=msg_id)
    return str(kind)


def _text(data: Mapping[str, Any], msg_id: MsgId) -> str:
    text = _str(data, "text", MAX_CHAT, msg_id)
    if not text.strip():
        raise BadMessage("field 'text' must not be blank", msg_id=msg_id)
    return text


Parser = Callable[[Mapping[str, Any], MsgId], ClientMessage]

PARSERS: dict[str, Parser] = {
    "join": lambda d, i: Join(_opt_str(d, "resume_token", MAX_TOKEN, i), i),
    "offer": lambda d, i: Offer(_str(d, "to", MAX_ID, i), _str(d, "sdp", MAX_SDP, i), i),
    "answer": lambda d, i: Answer(_str(d, "to", MAX_ID, i), _str(d, "sdp", MAX_SDP, i), i),
    "candidate": lambda d, i: Candidate(_str(d, "to", MAX_ID, i), _candidate(d, i), i),
    "state": lambda d, i: State(
        _opt_bool(d, "audio", i),
        _opt_bool(d, "video", i),
        _opt_bool(d, "hand", i),
        _opt_bool(d, "screen", i),
        i,
    ),
    "chat": lambda d, i: Chat(_text(d, i), i),
    "ping": lambda d, i: Ping(i),
    "leave": lambda d, i: Leave(i),
    "admit": lambda d, i: Admit(_str(d, "peer_id", MAX_ID, i), i),
    "deny": lambda d, i: Deny(_str(d, "peer_id", MAX_ID, i), i),
    "mute": lambda d, i: Mute(_str(d, "peer_id", MAX_ID, i), _kind(d, i), i),
    "kick": lambda d, i: Kick(_str(d, "peer_id", MAX_ID, i), i),
    "send-to-lobby": lambda d, i: SendToLobby(_str(d, "peer_id", MAX_ID, i), i),
    "end": lambda d, i: End(i),
    "record": lambda d, i: Record(_bool(d, "on", i), i),
    "spotlight": lambda d, i: Spotlight(_opt_str(d, "peer_id", MAX_ID, i), _spot_kind(d, i), i),
    "recording-consent": lambda d, i: RecordingConsent(_bool(d, "accept", i), i),
}


def message_id(data: Mapping[str, Any]) -> MsgId:
    """The client's `id` when it is a usable echo value (an integer or a short string)."""
    value = data.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and -(2**53) < value < 2**53:
        return value
    if isinstance(value, str) and len(value) <= MAX_ID:
        return value
    return None


def parse(raw: str | bytes) -> ClientMessage:
    """Parse one text frame into a client message; raise `BadMessage` or `UnknownType`."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadMessage("malformed JSON") from None
    if not isinstance(data, dict):
        raise BadMessage("a frame must be a JSON object")
    msg_id = message_id(data)
    kind = data.get("type")
    if kind is None:
        raise _missing("type", msg_id)
    if not isinstance(kind, str):
        raise BadMessage("field 'type' must be a string", msg_id=msg_id)
    parser = PARSERS.get(kind)
    if parser is None:
        raise UnknownType(f"unknown message type {kind[:MAX_ID]!r}", msg_id=msg_id)
    return parser(data, msg_id)
