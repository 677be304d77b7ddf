"""The aiohttp transport: the `ws-room` route, one session per socket, dispatch by type."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from signaling import actions, frames
from signaling import messages as m
from signaling.bus import Bus, LocalBus
from signaling.config import SignalingConfig
from signaling.connection import AbuseCounter, Connection, RateLimiter
from signaling.errors import (
    AlreadyJoined,
    BadMessage,
    CloseCode,
    FrameTooLarge,
    InternalError,
    JoinRefused,
    MsgId,
    NotJoined,
    RateLimited,
    RoomFull,
    SignalingError,
)
from signaling.ice import IceServers
from signaling.keys import signaling_key
from signaling.ports import RECORDER_ID, Authorizer, EventSink, RecorderHook
from signaling.redisbus import RedisBus
from signaling.registry import RoomRegistry
from signaling.room import Peer
from signaling.state import SignalingState

log = logging.getLogger(__name__)

ROOM_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Errors that say the client misbehaves; too many of them close the socket.
ABUSE = (BadMessage, FrameTooLarge, RateLimited, NotJoined, AlreadyJoined)


def setup_signaling(
    app: web.Application,
    *,
    config: SignalingConfig,
    authorizer: Authorizer,
    sink: EventSink,
    recorder: RecorderHook | None = None,
    bus: Bus | None = None,
    ice: IceServers | None = None,
) -> None:
    """Add the `ws-room` route and the registry/bus lifetime to an application.

    `ice` hands out the ICE servers; pass the one the application's join API uses, so that
    both give a user the same TURN credentials."""
    app[signaling_key] = SignalingState(config, authorizer, sink, recorder, bus, ice)
    app.router.add_get(config.join_path, room_socket, name="ws-room")
    app.cleanup_ctx.append(_lifetime)
    app.on_shutdown.append(_close_sockets)


def get_registry(app: web.Application) -> RoomRegistry:
    """The running registry (for `end_room`, `snapshot`)."""
    registry = app[signaling_key].registry
    if registry is None:
        raise RuntimeError("signalling is not running")
    return registry


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    state = app[signaling_key]
    config = state.config
    bus = state.bus
    if bus is None:
        bus = (
            RedisBus(
                config.redis_url, prefix=config.redis_prefix, heartbeat=config.bus_heartbeat_seconds
            )
            if config.redis_url
            else LocalBus()
        )
    registry = RoomRegistry(
        config=config, bus=bus, sink=state.sink, recorder=state.recorder, ice=state.ice
    )
    await registry.start()
    state.registry = registry
    try:
        yield
    finally:
        state.registry = None
        await registry.close()


async def _close_sockets(app: web.Application) -> None:
    for ws in list(app[signaling_key].sockets):
        await ws.close(code=CloseCode.GOING_AWAY, message=b"server shutdown")


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Browsers send Origin: it must be listed, or (with no list) match the Host."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if allowed:
        return origin.rstrip("/").lower() in {a.rstrip("/").lower() for a in allowed}
    return urlsplit(origin).netloc.lower() == request.host.lower()


async def room_socket(request: web.Request) -> web.StreamResponse:
    """`GET /ws/rooms/{room_id}`: authorize, then run one session until the socket closes."""
    state = request.app[signaling_key]
    registry, config = state.registry, state.config
    ws = web.WebSocketResponse(
        heartbeat=config.heartbeat_seconds, max_msg_size=config.transport_max_frame
    )
    if registry is None or not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="a WebSocket upgrade is required")
    await ws.prepare(request)
    state.sockets.add(ws)
    session: Session | None = None
    try:
        room_id = request.match_info["room_id"]
        refusal = await _refusal(request, state, room_id)
        if isinstance(refusal, JoinRefused):
            await ws.close(code=refusal.close_code, message=refusal.reason.encode()[:120])
            return ws
        session = Session(ws, registry, config, room_id, refusal)
        await session.run()
    except Exception:
        log.exception("signalling socket failed")
    finally:
        state.sockets.discard(ws)
        if session is not None:
            await session.finish()
        if not ws.closed:
            await ws.close(code=CloseCode.INTERNAL)
    return ws


async def _refusal(request: web.Request, state: SignalingState, room_id: str) -> JoinRefused | Any:
    if not origin_allowed(request, state.config.allowed_origins):
        return JoinRefused(CloseCode.FORBIDDEN, "origin not allowed")
    if not ROOM_ID.match(room_id):
        return JoinRefused(CloseCode.UNKNOWN_ROOM, "unknown room")
    try:
        identity = await state.authorizer.authorize(
            room_id=room_id,
            token=request.query.get("token"),
            session_cookie=request.cookies.get(state.config.session_cookie),
        )
        assert state.registry is not None
        await state.registry.check(room_id, identity.user_id)
    except JoinRefused as exc:
        return exc
    except SignalingError as exc:
        return JoinRefused(exc.close_code or CloseCode.FORBIDDEN, exc.message)
    return identity


Handler = Callable[["Session", Any], Awaitable[None]]


class Session:
    """One authorized socket: reads frames, dispatches them, and turns errors into replies."""

    __slots__ = (
        "ws",
        "registry",
        "config",
        "room_id",
        "identity",
        "conn",
        "peer",
        "rate",
        "spot_rate",
        "abuse",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        registry: RoomRegistry,
        config: SignalingConfig,
        room_id: str,
        identity: Any,
    ) -> None:
        self.ws = ws
        self.registry = registry
        self.config = config
        self.room_id = room_id
        self.identity = identity
        self.conn = Connection(ws, config)
        self.peer: Peer | None = None
        self.rate = RateLimiter(config.rate_per_second, config.rate_burst)
        self.spot_rate = RateLimiter(config.spotlight_per_second, config.spotlight_burst)
        self.abuse = AbuseCounter(config.abuse_limit, config.abuse_window_seconds)

    async def run(self) -> None:
        """Read until the socket closes."""
        async for msg in self.ws:
            if self.conn.closing:
                break
            if msg.type == WSMsgType.TEXT:
                await self.handle(msg.data)
            elif msg.type == WSMsgType.BINARY:
                self.fail(BadMessage("binary frames are not supported"))
            elif msg.type == WSMsgType.ERROR:
                break

    async def finish(self) -> None:
        """Cleanup: a dropped peer enters its grace period (unless replaced meanwhile)."""
        if self.peer is not None:
            self.registry.detach(self.peer, self.conn)
        await self.conn.aclose()

    async def handle(self, data: str) -> None:
        """Handle one text frame; never raises."""
        try:
            if not self.rate.allow():
                raise RateLimited("slow down")
            limit = self.config.max_frame
            # A character is at most 4 bytes: only long text needs the exact (copying) count.
            if len(data) * 4 > limit and (
                len(data) > limit or len(data.encode("utf-8", "surrogatepass")) > limit
            ):
                raise FrameTooLarge(f"frames are limited to {self.config.max_frame} bytes")
            message = m.parse(data)
            await HANDLERS[type(message)](self, message)
            if isinstance(message, m.Offer | m.Answer | m.Candidate):
                self.registry.stats.relayed += 1
        except SignalingError as exc:
            self.fail(exc)
        except Exception:
            log.exception("signalling handler failed")
            self.fail(InternalError("internal error"))

    def fail(self, exc: SignalingError) -> None:
        """Reply with an `error` frame; close after repeated abuse."""
        self.registry.stats.errors[exc.code] += 1
        self.conn.send(frames.error_of(exc))
        if isinstance(exc, ABUSE) and self.abuse.strike():
            self.conn.close(CloseCode.ABUSE, "too many bad messages")

    def joined(self, msg_id: MsgId) -> Peer:
        """The session's peer; NotJoined before `join`."""
        if self.peer is None or self.peer.closed:
            raise NotJoined("send join first", msg_id=msg_id)
        return self.peer


async def on_join(s: Session, msg: m.Join) -> None:
    """`join`: enter the room, resume, or be refused and closed."""
    if s.peer is not None and not s.peer.closed:
        raise AlreadyJoined("already joined", msg_id=msg.id)
    try:
        s.peer = await s.registry.join(s.room_id, s.identity, s.conn, msg.resume_token)
    except SignalingError as exc:
        exc.msg_id = msg.id
        s.registry.stats.errors[exc.code] += 1
        s.conn.send(frames.error_of(exc))
        s.conn.close(exc.close_code or CloseCode.FORBIDDEN, exc.code)


async def on_signal(s: Session, msg: m.Offer | m.Answer | m.Candidate) -> None:
    """`offer`, `answer`, `candidate`: relay to one peer."""
    peer = s.joined(msg.id)
    try:
        if msg.to == RECORDER_ID and not isinstance(msg, m.Answer):
            actions.to_recorder(s.registry, peer, msg)
        else:
            actions.relay(s.registry, peer, msg)
    except SignalingError as exc:
        exc.msg_id = msg.id
        raise


def _with_id(
    fn: Callable[[Session, Any, Peer], Awaitable[None] | None],
) -> Handler:
    async def handler(s: Session, msg: Any) -> None:
        peer = s.joined(msg.id)
        try:
            result = fn(s, msg, peer)
            if result is not None:
                await result
        except SignalingError as exc:
            exc.msg_id = msg.id
            if isinstance(exc, RoomFull):
                # A full room refuses the admitted peer, not the moderator: no close.
                s.conn.send(frames.error_of(exc))
                return
            raise

    return handler


async def on_ping(s: Session, msg: m.Ping) -> None:
    """`ping`: answer `pong` (allowed before `join`)."""
    s.conn.send(frames.pong(msg.id))


def _spotlight(s: Session, msg: m.Spotlight, peer: Peer) -> None:
    if not s.spot_rate.allow():
        raise RateLimited("the spotlight changes too often")
    actions.spotlight(s.registry, peer, msg.peer_id, msg.kind)


def _leave(s: Session, msg: m.Leave, peer: Peer) -> None:
    room = actions.room_of(s.registry, peer)
    s.registry.remove(room, peer, "left", code=CloseCode.NORMAL, close_reason="left")


HANDLERS: dict[type, Handler] = {
    m.Join: on_join,
    m.Offer: on_signal,
    m.Answer: on_signal,
    m.Candidate: on_signal,
    m.Ping: on_ping,
    m.State: _with_id(
        lambda s, msg, p: actions.set_state(
            s.registry,
            p,
            {"audio": msg.audio, "video": msg.video, "hand": msg.hand, "screen": msg.screen},
        )
    ),
    m.Chat: _with_id(lambda s, msg, p: actions.chat(s.registry, p, msg.text)),
    m.Leave: _with_id(_leave),
    m.Admit: _with_id(lambda s, msg, p: actions.admit(s.registry, p, msg.peer_id)),
    m.Deny: _with_id(lambda s, msg, p: actions.deny(s.registry, p, msg.peer_id)),
    m.Mute: _with_id(lambda s, msg, p: actions.mute(s.registry, p, msg.peer_id, msg.kind)),
    m.Kick: _with_id(lambda s, msg, p: actions.kick(s.registry, p, msg.peer_id)),
    m.SendToLobby: _with_id(lambda s, msg, p: actions.send_to_lobby(s.registry, p, msg.peer_id)),
    m.End: _with_id(lambda s, msg, p: actions.end(s.registry, p)),
    m.Record: _with_id(lambda s, msg, p: actions.record(s.registry, p, msg.on)),
    m.Spotlight: _with_id(_spotlight),
    m.RecordingConsent: _with_id(lambda s, msg, p: actions.consent(s.registry, p, msg.accept)),
}
