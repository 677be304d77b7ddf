"""A small asyncio client for Janus's WebSocket API (the `janus-protocol` subprotocol): one
connection, sessions kept alive, plugin handles, requests matched to their answers by
transaction, failures raised as named errors. Only the server talks to Janus."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)

JanusMessage = dict[str, Any]
EventListener = Callable[[JanusMessage], None]

SUBPROTOCOL = "janus-protocol"
HEARTBEAT_SECONDS = 5.0
VIDEOROOM = "janus.plugin.videoroom"


class JanusError(Exception):
    """Janus refused a request (`code` and `reason` as Janus gave them)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusPluginError(JanusError):
    """The plugin refused a request (VideoRoom's `error_code` and `error`)."""


class JanusUnavailable(JanusError):
    """Janus cannot be reached, the connection dropped, or it did not answer in time."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, reason)


@dataclass
class PluginReply:
    """What a plugin answered: its data, and a session description when it sent one."""

    data: JanusMessage
    jsep: JanusMessage | None = None


@dataclass
class _Waiter:
    future: asyncio.Future[JanusMessage]
    # Asynchronous plugin requests are acknowledged first, answered by an event later.
    wait_event: bool = False


@dataclass
class _Handle:
    listeners: list[EventListener] = field(default_factory=list)


class JanusConnection:
    """One WebSocket to one Janus server, shared by the sessions made on it."""

    def __init__(self, url: str, *, api_secret: str | None = None, timeout: float = 10.0) -> None:
        self.url = url
        self.api_secret = api_secret
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[str, _Waiter] = {}
        self._handles: dict[int, _Handle] = {}
        self._sessions: dict[int, JanusSession] = {}
        self._lost: list[Callable[[], None]] = []
        self.closed = False

    async def connect(self) -> None:
        """Open the WebSocket; raise `JanusUnavailable` when Janus does not answer."""
        self._http = aiohttp.ClientSession()
        try:
            async with asyncio.timeout(self.timeout):
                # WebSocket pings notice a Janus that vanished without closing the socket.
                self._ws = await self._http.ws_connect(
                    self.url, protocols=(SUBPROTOCOL,), heartbeat=HEARTBEAT_SECONDS
                )
        except BaseException as exc:
            await self._http.close()
            self.closed = True
            if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
                raise JanusUnavailable(f"cannot reach Janus at {self.url}: {exc}") from exc
            raise
        self._reader = asyncio.create_task(self._read(), name="janus-reader")

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call `callback` once when the connection drops (not when it is closed on purpose)."""
        self._lost.append(callback)

    async def close(self) -> None:
        """Close the connection; pending requests fail with `JanusUnavailable`."""
        if self.closed:
            return
        self.closed = True
        for session in list(self._sessions.values()):
            session.stop_keepalive()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_all("connection closed")
        if self._http is not None:
            await self._http.close()

    async def create_session(self, *, keepalive_seconds: float = 15.0) -> JanusSession:
        """A new Janus session, kept alive until destroyed."""
        reply = await self.request({"janus": "create"})
        session = JanusSession(self, int(reply["data"]["id"]), keepalive_seconds)
        self._sessions[session.id] = session
        return session

    async def info(self) -> JanusMessage:
        """Janus's `info` reply: version, plugins, transports."""
        return await self.request({"janus": "info"})

    async def request(self, payload: JanusMessage, *, wait_event: bool = False) -> JanusMessage:
        """Send one request and return its `success` (or, with `wait_event`, its event)."""
        if self.closed or self._ws is None:
            raise JanusUnavailable("not connected to Janus")
        transaction = secrets.token_hex(8)
        message = {**payload, "transaction": transaction}
        if self.api_secret is not None:
            message["apisecret"] = self.api_secret
        future: asyncio.Future[JanusMessage] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = _Waiter(future, wait_event)
        try:
            await self._ws.send_bytes(orjson.dumps(message))
            async with asyncio.timeout(self.timeout):
                return await future
        except TimeoutError:
            raise JanusUnavailable(f"Janus did not answer {payload.get('janus')}") from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise JanusUnavailable(f"lost Janus: {exc}") from exc
        finally:
            self._waiting.pop(transaction, None)

    def _listen(self, handle_id: int, listener: EventListener) -> None:
        self._handles.setdefault(handle_id, _Handle()).listeners.append(listener)

    def _forget(self, *, handle_id: int | None = None, session_id: int | None = None) -> None:
        if handle_id is not None:
            self._handles.pop(handle_id, None)
        if session_id is not None:
            self._sessions.pop(session_id, None)

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                if frame.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    try:
                        message = orjson.loads(frame.data)
                    except orjson.JSONDecodeError:
                        log.warning("Janus sent malformed JSON")
                        continue
                    if isinstance(message, dict):
                        self._dispatch(message)
                elif frame.type == aiohttp.WSMsgType.ERROR:
                    break
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("reading from Janus failed: %r", exc)
        finally:
            if not self.closed:
                self.closed = True
                log.warning("lost the connection to Janus at %s", self.url)
                for session in list(self._sessions.values()):
                    session.stop_keepalive()
                self._fail_all("lost the connection to Janus")
                for callback in self._lost:
                    callback()

    def _fail_all(self, reason: str) -> None:
        for waiter in self._waiting.values():
            if not waiter.future.done():
                waiter.future.set_exception(JanusUnavailable(reason))

    def _dispatch(self, message: JanusMessage) -> None:
        kind = message.get("janus")
        waiter = self._waiting.get(str(message.get("transaction", "")))
        if waiter is not None and not waiter.future.done():
            if kind == "error":
                error = message.get("error") or {}
                waiter.future.set_exception(
                    JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
                )
                return
            if kind == "ack" and waiter.wait_event:
                return
            if kind in ("success", "ack", "server_info") or (kind == "event" and waiter.wait_event):
                plugin_error = _plugin_error(message)
                if plugin_error is not None:
                    waiter.future.set_exception(plugin_error)
                else:
                    waiter.future.set_result(message)
                return
        sender = message.get("sender")
        if isinstance(sender, int) and sender in self._handles:
            for listener in list(self._handles[sender].listeners):
                try:
                    listener(message)
                except Exception:
                    log.exception("a Janus event listener failed")
        elif kind == "timeout":
            session = self._sessions.pop(int(message.get("session_id", 0)), None)
            if session is not None:
                session.stop_keepalive()


def _plugin_error(message: JanusMessage) -> JanusPluginError | None:
    data = (message.get("plugindata") or {}).get("data") or {}
    if isinstance(data, dict) and "error_code" in data:
        return JanusPluginError(int(data["error_code"]), str(data.get("error", "")))
    return None


class JanusSession:
    """A Janus session: its handles, kept alive by a periodic keepalive."""

    def __init__(self, connection: JanusConnection, session_id: int, keepalive: float) -> None:
        self.connection = connection
        self.id = session_id
        self.destroyed = False
        self._keepalive = asyncio.create_task(self._beat(keepalive), name="janus-keepalive")

    async def _beat(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.connection.request({"janus": "keepalive", "session_id": self.id})
            except JanusError as exc:
                log.warning("Janus keepalive failed: %s", exc)
                return

    def stop_keepalive(self) -> None:
        """Stop sending keepalives (the session is gone or about to be)."""
        self._keepalive.cancel()

    async def attach(self, plugin: str = VIDEOROOM) -> JanusHandle:
        """A new handle on `plugin`."""
        reply = await self.connection.request(
            {"janus": "attach", "session_id": self.id, "plugin": plugin}
        )
        return JanusHandle(self, int(reply["data"]["id"]))

    async def destroy(self) -> None:
        """Destroy the session and its handles; idempotent, quiet when Janus is gone."""
        if self.destroyed:
            return
        self.destroyed = True
        self.stop_keepalive()
        self.connection._forget(session_id=self.id)
        with contextlib.suppress(JanusError):
            await self.connection.request({"janus": "destroy", "session_id": self.id})


class JanusHandle:
    """A handle on a plugin: plugin requests, trickle, the handle's own events."""

    def __init__(self, session: JanusSession, handle_id: int) -> None:
        self.session = session
        self.id = handle_id
        self.detached = False

    def on_event(self, listener: EventListener) -> None:
        """Call `listener` with every message Janus sends about this handle unasked."""
        self.session.connection._listen(self.id, listener)

    def _base(self, kind: str) -> JanusMessage:
        return {"janus": kind, "session_id": self.session.id, "handle_id": self.id}

    async def request(self, body: JanusMessage) -> PluginReply:
        """A synchronous plugin request (create, destroy, list, kick, ...)."""
        reply = await self.session.connection.request({**self._base("message"), "body": body})
        return plugin_reply(reply)

    async def message(self, body: JanusMessage, jsep: JanusMessage | None = None) -> PluginReply:
        """An asynchronous plugin request (join, publish, start, ...): its event."""
        payload = {**self._base("message"), "body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        reply = await self.session.connection.request(payload, wait_event=True)
        return plugin_reply(reply)

    async def trickle(self, candidate: JanusMessage | None) -> None:
        """Send one ICE candidate to Janus; None says there are no more."""
        payload = self._base("trickle")
        payload["candidate"] = candidate if candidate is not None else {"completed": True}
        await self.session.connection.request(payload)

    async def hangup(self) -> None:
        """Close the handle's PeerConnection, keeping the handle."""
        with contextlib.suppress(JanusError):
            await self.session.connection.request(self._base("hangup"))

    async def detach(self) -> None:
        """Detach the handle; idempotent, quiet when Janus or the session is gone."""
        if self.detached:
            return
        self.detached = True
        self.session.connection._forget(handle_id=self.id)
        if self.session.destroyed:
            return
        with contextlib.suppress(JanusError):
            await self.session.connection.request(self._base("detach"))


def plugin_reply(message: JanusMessage) -> PluginReply:
    """The plugin's data and session description in a message from Janus."""
    data = (message.get("plugindata") or {}).get("data") or {}
    jsep = message.get("jsep")
    return PluginReply(data=data, jsep=jsep if isinstance(jsep, dict) else None)
