"""WebRTC signalling: rooms, peers, lobby, moderation and the message bus (protocol v1)."""

from signaling.auth import (
    Authorizer,
    ChatPosted,
    EventSink,
    Identity,
    MemoryAuthorizer,
    MemoryEventSink,
    PeerJoined,
    PeerLeft,
    RecordedFile,
    RecordingChanged,
    RecordingConsent,
    RecordingFinished,
    RoomEnded,
    RoomEvent,
    StateChanged,
)
from signaling.config import SignalingConfig
from signaling.errors import CloseCode, JoinRefused
from signaling.registry import RoomRegistry
from signaling.server import setup_signaling

__all__ = [
    "Authorizer",
    "ChatPosted",
    "CloseCode",
    "EventSink",
    "Identity",
    "JoinRefused",
    "MemoryAuthorizer",
    "MemoryEventSink",
    "PeerJoined",
    "PeerLeft",
    "RecordedFile",
    "RecordingChanged",
    "RecordingConsent",
    "RecordingFinished",
    "RoomEnded",
    "RoomEvent",
    "RoomRegistry",
    "SignalingConfig",
    "StateChanged",
    "setup_signaling",
]
