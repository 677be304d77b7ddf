"""The network-test echo: a server-side aiortc peer that sends a browser's audio and video
straight back, so the page can measure what really gets through. Limited in number and time,
because each one decodes and re-encodes video on the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from signaling.errors import BadOffer, SignalingError
from signaling.media.rtp_recovery import skip_lost_video_packets

log = logging.getLogger(__name__)

MAX_OFFER = 60_000


class EchoBusy(SignalingError):
    """Every echo slot is taken."""

    code = "echo-busy"


class EchoRejected(BadOffer):
    """The offer could not be used (malformed, or no audio or video in it)."""


@dataclass(frozen=True, slots=True)
class EchoAnswer:
    """What the browser needs: the echo's id (to close it) and the SDP answer."""

    echo_id: str
    sdp: str
    max_seconds: float


@dataclass
class _Echo:
    echo_id: str
    pc: RTCPeerConnection
    timer: asyncio.TimerHandle | None = None


class EchoService:
    """At most `max_peers` echo peers at once, each closed after `max_seconds` or on failure."""

    def __init__(
        self,
        *,
        max_peers: int = 4,
        max_seconds: float = 30.0,
        ice_servers: list[RTCIceServer] | None = None,
    ) -> None:
        self.max_peers = max_peers
        self.max_seconds = max_seconds
        self.ice_servers = ice_servers or []
        self._echoes: dict[str, _Echo] = {}
        self._closing: set[asyncio.Task[bool]] = set()
        self.closed = False

    @property
    def active(self) -> int:
        """How many echo peers are open."""
        return len(self._echoes)

    async def answer(self, sdp: str) -> EchoAnswer:
        """Create an echo peer for a complete (non-trickled) offer; raise EchoBusy when full."""
        if self.closed or len(self._echoes) >= self.max_peers:
            raise EchoBusy("every echo slot is in use")
        if not sdp or len(sdp) > MAX_OFFER or "m=" not in sdp:
            raise EchoRejected("the offer is not a session description")
        echo = _Echo(
            "e" + secrets.token_hex(8),
            RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers)),
        )
        # Reserve the slot before the first await, so concurrent offers respect the limit.
        self._echoes[echo.echo_id] = echo
        pc = echo.pc
        kinds: list[str] = []

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            kinds.append(track.kind)
            # The received track is decoded, then re-encoded by the sender: a true echo.
            pc.addTrack(track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(echo.echo_id)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            if not kinds:
                raise EchoRejected("the offer has no audio or video")
            skip_lost_video_packets(pc)
            await pc.setLocalDescription(await pc.createAnswer())
        except EchoRejected:
            await self.close(echo.echo_id)
            raise
        except Exception as exc:
            await self.close(echo.echo_id)
            raise EchoRejected(f"the offer could not be used: {exc}") from None
        loop = asyncio.get_running_loop()
        echo.timer = loop.call_later(self.max_seconds, self._expire, echo.echo_id)
        return EchoAnswer(echo.echo_id, pc.localDescription.sdp, self.max_seconds)

    def _expire(self, echo_id: str) -> None:
        task = asyncio.create_task(self.close(echo_id))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self, echo_id: str) -> bool:
        """Close one echo peer; False when it was not open."""
        echo = self._echoes.pop(echo_id, None)
        if echo is None:
            return False
        if echo.timer is not None:
            echo.timer.cancel()
        try:
            await echo.pc.close()
        except Exception:
            log.exception("echo peer failed to close")
        return True

    async def aclose(self) -> None:
        """Close every echo peer (server shutdown)."""
        self.closed = True
        await asyncio.gather(*(self.close(e) for e in list(self._echoes)), return_exceptions=True)
        await asyncio.gather(*list(self._closing), return_exceptions=True)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[EchoService]:
        """Use as a lifetime: closes every echo peer on exit."""
        try:
            yield self
        finally:
            await self.aclose()
