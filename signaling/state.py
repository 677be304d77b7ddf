"""What `setup_signaling` keeps on the application."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from aiohttp import web

from signaling.bus import Bus
from signaling.config import SignalingConfig
from signaling.ice import IceServers
from signaling.ports import Authorizer, EventSink, RecorderHook
from signaling.registry import RoomRegistry
from signaling.sfu import MediaRouter


@dataclass
class SignalingState:
    """Configuration, injected collaborators, the registry while running, live sockets."""

    config: SignalingConfig
    authorizer: Authorizer
    sink: EventSink
    recorder: RecorderHook | None = None
    bus: Bus | None = None
    ice: IceServers | None = None
    registry: RoomRegistry | None = None
    sfu: MediaRouter | None = None
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)
