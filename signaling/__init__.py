"""WebRTC signalling: rooms, peers, lobby, moderation and the message bus (protocol v1).

The application injects the ports (`signaling.ports`) and receives the events
(`signaling.events`); server-side media peers live apart, in `signaling.media`.
"""

from signaling.config import SignalingConfig
from signaling.errors import CloseCode, JoinRefused
from signaling.events import (
    ChatPosted,
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
from signaling.ice import IceServers
from signaling.ports import Authorizer, EventSink, Identity, RecorderHook, RoomControl
from signaling.registry import RoomRegistry
from signaling.server import setup_signaling

__all__ = [
    "Authorizer",
    "ChatPosted",
    "CloseCode",
    "EventSink",
    "IceServers",
    "Identity",
    "JoinRefused",
    "PeerJoined",
    "PeerLeft",
    "RecordedFile",
    "RecorderHook",
    "RecordingChanged",
    "RecordingConsent",
    "RecordingFinished",
    "RoomEnded",
    "RoomEvent",
    "RoomControl",
    "RoomRegistry",
    "SignalingConfig",
    "StateChanged",
    "setup_signaling",
]
