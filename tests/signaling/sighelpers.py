"""Test clients for the signalling server: a JSON WebSocket client and an aiortc peer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer
from doubles import MemoryAuthorizer, MemoryEventSink

from signaling import Identity, SignalingConfig, setup_signaling
from signaling.bus import Bus
from signaling.server import get_registry

TIMEOUT = 15.0
FAST = SignalingConfig(grace_seconds=1.0, heartbeat_seconds=2.0, bus_heartbeat_seconds=0.5,
                       resync_settle_seconds=0.5)


def identity(user: str, **kw: Any) -> Identity:
    """A test identity."""
    kw.setdefault("name", f"BS. {user}")
    kw.setdefault("facility", "TTYT huyện Chơn Thành")
    return Identity(user_id=user, **kw)


@dataclass
class Harness:
    """One app: its server, authorizer and event sink."""

    server: TestServer
    auth: MemoryAuthorizer
    sink: MemoryEventSink
    config: SignalingConfig
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def registry(self) -> Any:
        """The running registry."""
        return get_registry(self.server.app)

    def url(self, room: str, token: str | None = None) -> str:
        """The socket URL of a room."""
        path = f"/ws/rooms/{room}" + (f"?token={token}" if token else "")
        return str(self.server.make_url(path))

    async def raw(self, room: str, token: str | None = None, **kw: Any) -> Client:
        """Open a socket without joining."""
        if not self.sessions:
            self.sessions.append(aiohttp.ClientSession())
        ws = await self.sessions[0].ws_connect(self.url(room, token), **kw)
        return Client(ws)

    async def connect(self, room: str, who: Identity, *, join: bool = True,
                      resume_token: str | None = None) -> Client:
        """Issue a token, open the socket and (by default) join and wait for welcome."""
        client = await self.raw(room, self.auth.issue(room, who))
        if join:
            await client.send(type="join", resume_token=resume_token)
            if not who.needs_admission or who.moderator:
                client.welcome = await client.expect("welcome")
        return client

    async def close(self) -> None:
        """Close client sessions."""
        for session in self.sessions:
            await session.close()


async def build(config: SignalingConfig, bus: Bus | None = None) -> Harness:
    """Start an app with signalling on a free port."""
    app = web.Application()
    auth, sink = MemoryAuthorizer(), MemoryEventSink()
    setup_signaling(app, config=config, authorizer=auth, sink=sink, bus=bus)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return Harness(server, auth, sink, config)


@contextlib.asynccontextmanager
async def running(config: SignalingConfig, bus: Bus | None = None) -> AsyncIterator[Harness]:
    """An app for the duration of a block."""
    harness = await build(config, bus)
    try:
        yield harness
    finally:
        await harness.close()
        await harness.server.close()


class Client:
    """A JSON WebSocket client that keeps every frame and lets tests wait for one."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.inbox: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}
        self.close_code: int | None = None
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    @property
    def peer_id(self) -> str:
        """Own peer id from welcome."""
        return str(self.welcome["peer_id"])

    async def _read(self) -> None:
        with contextlib.suppress(aiohttp.ClientError):
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    frame = orjson.loads(msg.data)
                    async with self._arrived:
                        self.frames.append(frame)
                        self.inbox.append(frame)
                        self._arrived.notify_all()
        async with self._arrived:
            self.close_code = self.ws.close_code
            self._arrived.notify_all()

    async def send(self, **frame: Any) -> None:
        """Send a JSON frame."""
        await self.ws.send_str(orjson.dumps(frame).decode())

    async def send_raw(self, data: str) -> None:
        """Send a text frame as is."""
        await self.ws.send_str(data)

    async def expect(self, kind: str, where: Callable[[dict[str, Any]], bool] | None = None,
                     timeout: float = TIMEOUT) -> dict[str, Any]:
        """Take the first unread frame of `kind` (matching `where`), waiting for it."""
        def find() -> dict[str, Any] | None:
            for frame in self.inbox:
                if frame.get("type") == kind and (where is None or where(frame)):
                    return frame
            return None

        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: find() is not None or self.close_code is not None),
                timeout)
            frame = find()
            if frame is None:
                raise AssertionError(f"closed ({self.close_code}) before {kind}: {self.inbox}")
            self.inbox.remove(frame)
            return frame

    async def closed(self, timeout: float = TIMEOUT) -> int | None:
        """Wait for the server to close the socket; return the close code."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    def types(self) -> list[str]:
        """Types of every frame received so far."""
        return [str(f.get("type")) for f in self.frames]

    async def close(self) -> None:
        """Close from the client side."""
        await self.ws.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)
