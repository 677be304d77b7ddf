"""The recorder: a server-side aiortc participant that writes each consenting peer's audio
and video to its own file, and reports the finished files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp

from signaling import frames
from signaling.errors import BadOffer, RecorderFailed
from signaling.events import RecordedFile, RecordingFinished, utcnow
from signaling.media.rtp_recovery import skip_lost_video_packets
from signaling.media.writer import MediaWriter, UnreadableRecording, probe
from signaling.ports import RECORDER_ID, RoomLink

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
# Messages a peer may queue for the recorder before it catches up (offer + trickled candidates).
_QUEUE = 64


@dataclass
class _Segment:
    """One peer connection and its file: from an offer until withdrawal, leave or stop."""

    peer: dict[str, Any]
    path: Path
    pc: RTCPeerConnection
    writer: MediaWriter
    started: datetime
    kinds: set[str] = field(default_factory=set)
    finished: bool = False


@dataclass
class _PeerMedia:
    """A consenting peer's queue of signalling messages and its worker."""

    peer_id: str
    inbox: asyncio.Queue[tuple[dict[str, Any], str, dict[str, Any]] | None]
    worker: asyncio.Task[None] | None = None
    segment: _Segment | None = None
    count: int = 0


@dataclass
class _RoomRecording:
    room_id: str
    directory: Path
    started: datetime
    peers: dict[str, _PeerMedia] = field(default_factory=dict)
    files: list[RecordedFile] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Files being finished early (withdrawn consent, lost connection): part of this recording.
    retiring: set[asyncio.Task[None]] = field(default_factory=set)


class Recorder:
    """Records rooms on request; implements `SignalingRecorder` for the registry."""

    def __init__(
        self,
        directory: Path,
        *,
        ice_servers: list[RTCIceServer] | None = None,
    ) -> None:
        self.directory = directory
        self.ice_servers = ice_servers or []
        self._link: RoomLink | None = None
        self._rooms: dict[str, _RoomRecording] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        self.closed = False

    # the registry's side

    def bind(self, link: RoomLink) -> None:
        """Start working for a running registry."""
        self._link = link

    def recording(self, room_id: str) -> bool:
        """Whether the room is being recorded here."""
        return room_id in self._rooms

    def connections(self) -> int:
        """How many peer connections are open (for tests and monitoring)."""
        return sum(
            1
            for r in self._rooms.values()
            for p in r.peers.values()
            if p.segment is not None and not p.segment.finished
        )

    async def start(self, room_id: str) -> None:
        """Begin recording a room; raises when the files cannot be written."""
        if self.closed:
            raise RuntimeError("the recorder is shut down")
        if room_id in self._rooms:
            return
        started = utcnow()
        directory = self.directory / _SAFE.sub("_", room_id) / started.strftime("%Y%m%dT%H%M%S")
        directory.mkdir(parents=True, exist_ok=True)
        self._rooms[room_id] = _RoomRecording(room_id, directory, started)

    async def stop(self, room_id: str) -> None:
        """Finish the room's files and report them; idempotent, survives cancellation."""
        rec = self._rooms.pop(room_id, None)
        if rec is None:
            return
        task = asyncio.create_task(self._finish(rec))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        await asyncio.shield(task)

    async def aclose(self) -> None:
        """Finish every recording (server shutdown)."""
        self.closed = True
        await asyncio.gather(*(self.stop(r) for r in list(self._rooms)), return_exceptions=True)
        await asyncio.gather(*list(self._finishing), return_exceptions=True)

    def signal(self, room_id: str, peer: dict[str, Any], kind: str, body: dict[str, Any]) -> None:
        """Queue an offer or candidate from a consenting peer."""
        rec = self._rooms.get(room_id)
        if rec is None:
            return
        peer_id = str(peer["peer_id"])
        media = rec.peers.get(peer_id)
        if media is None:
            media = rec.peers[peer_id] = _PeerMedia(peer_id, asyncio.Queue(_QUEUE))
            media.worker = asyncio.create_task(self._work(rec, media))
        with contextlib.suppress(asyncio.QueueFull):
            media.inbox.put_nowait((peer, kind, body))

    def withdraw(self, room_id: str, peer_id: str) -> None:
        """Finish the peer's current file; a later consent starts a new one."""
        rec = self._rooms.get(room_id)
        media = rec.peers.pop(peer_id, None) if rec is not None else None
        if rec is None or media is None:
            return
        self._track(rec, self._retire(rec, media))

    # work

    async def _work(self, rec: _RoomRecording, media: _PeerMedia) -> None:
        while (item := await media.inbox.get()) is not None:
            peer, kind, body = item
            try:
                if kind == "offer":
                    await self._offer(rec, media, peer, str(body["sdp"]))
                elif kind == "candidate" and media.segment is not None:
                    await self._candidate(media.segment, body.get("candidate"))
            except Exception as exc:
                log.exception("recorder failed for peer %s", media.peer_id)
                self._fail(rec, f"the recorder failed for {peer.get('name', '')}: {exc}")
                return

    async def _offer(
        self, rec: _RoomRecording, media: _PeerMedia, peer: dict[str, Any], sdp: str
    ) -> None:
        if media.segment is not None:
            # A new offer (reconnect, renegotiation) starts a new file.
            await self._close_segment(rec, media.segment)
            media.segment = None
        media.count += 1
        name = _SAFE.sub("_", f"{peer.get('user_id', '')}-{media.peer_id}-{media.count}")
        path = rec.directory / (name + ".mp4")
        path.touch()  # fail now, loudly, if the storage is gone (the muxer opens it later)
        writer = MediaWriter(path, on_error=partial(self._writer_failed, rec, peer))
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        segment = _Segment(peer, path, pc, writer, utcnow())
        media.segment = segment

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind not in segment.kinds:
                segment.kinds.add(track.kind)
                segment.writer.add_track(track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "failed" and not segment.finished:
                self._peer_lost(rec, media, segment)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            if not segment.kinds:
                raise ValueError("the offer has no audio or video")
            skip_lost_video_packets(pc)
        except Exception as exc:
            # A bad offer is the sender's problem, not the recording's.
            media.segment = None
            await self._close_segment(rec, segment)
            refusal = BadOffer(f"the recorder cannot use this offer: {exc}")
            self._send(rec.room_id, media.peer_id, frames.error_of(refusal))
            return
        await segment.writer.start()
        await pc.setLocalDescription(await pc.createAnswer())
        answer = frames.answer(pc.localDescription.sdp, sender=RECORDER_ID)
        self._send(rec.room_id, media.peer_id, answer)

    async def _candidate(self, segment: _Segment, raw: dict[str, Any] | None) -> None:
        if raw is None or not raw.get("candidate"):
            return
        text = str(raw["candidate"])
        candidate = candidate_from_sdp(
            text.split(":", 1)[1] if text.startswith("candidate:") else text
        )
        candidate.sdpMid = raw.get("sdpMid")
        candidate.sdpMLineIndex = raw.get("sdpMLineIndex")
        await segment.pc.addIceCandidate(candidate)

    def _writer_failed(self, rec: _RoomRecording, peer: dict[str, Any], exc: BaseException) -> None:
        # A writer that failed (disk full, encoder error) fails the recording, told to the room.
        log.error("the recorder stopped writing for peer %s: %s", peer.get("peer_id"), exc)
        self._fail(rec, f"the recorder stopped writing the media of {peer.get('name', '')}")

    def _peer_lost(self, rec: _RoomRecording, media: _PeerMedia, segment: _Segment) -> None:
        name = str(segment.peer.get("name", ""))
        if self._link is not None:
            lost = RecorderFailed(f"the recorder lost the connection to {name}")
            self._link.tell_moderators(rec.room_id, frames.error_of(lost))
            again = RecorderFailed("the recorder lost the connection; offer again")
            self._link.send_to_peer(rec.room_id, media.peer_id, frames.error_of(again))
        if media.segment is segment:
            media.segment = None
        self._track(rec, self._close_segment(rec, segment))

    def _track(self, rec: _RoomRecording, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        for tasks in (self._finishing, rec.retiring):
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    def _fail(self, rec: _RoomRecording, message: str) -> None:
        rec.failed.append(message)
        if self._link is not None:
            self._link.recording_failed(rec.room_id, message)

    def _send(self, room_id: str, peer_id: str, frame: dict[str, Any]) -> None:
        if self._link is not None:
            self._link.send_to_peer(room_id, peer_id, frame)

    # finishing

    async def _retire(self, rec: _RoomRecording, media: _PeerMedia) -> None:
        if media.worker is not None:
            media.worker.cancel()
            await asyncio.gather(media.worker, return_exceptions=True)
        if media.segment is not None:
            await self._close_segment(rec, media.segment)
            media.segment = None

    async def _close_segment(self, rec: _RoomRecording, segment: _Segment) -> None:
        if segment.finished:
            return
        segment.finished = True
        ended = utcnow()
        try:
            await segment.writer.stop()
        except Exception as exc:
            log.exception("could not finish %s", segment.path)
            rec.failed.append(f"{segment.peer.get('name', '')}: {exc}")
        finally:
            await segment.pc.close()
        if dropped := segment.writer.dropped("video"):
            kept = segment.writer.frames("video")
            log.info("%s: %d of %d pictures dropped", segment.path.name, dropped, dropped + kept)
        if not segment.kinds:
            segment.path.unlink(missing_ok=True)
            return
        try:
            duration, audio, video = await asyncio.to_thread(probe, segment.path)
        except UnreadableRecording as exc:
            log.error("unreadable recording %s is kept: %s", segment.path, exc)
            rec.failed.append(f"{segment.peer.get('name', '')}: unreadable file ({exc})")
            return
        rec.files.append(
            RecordedFile(
                peer_id=str(segment.peer["peer_id"]),
                user_id=str(segment.peer.get("user_id", "")),
                name=str(segment.peer.get("name", "")),
                facility=str(segment.peer.get("facility", "")),
                path=segment.path,
                started=segment.started,
                ended=ended,
                duration=duration,
                audio=audio,
                video=video,
            )
        )

    async def _finish(self, rec: _RoomRecording) -> None:
        await asyncio.gather(
            *(self._retire(rec, m) for m in list(rec.peers.values())), return_exceptions=True
        )
        rec.peers.clear()
        await asyncio.gather(*list(rec.retiring), return_exceptions=True)
        if not rec.files:
            # Gone unless an unreadable file is kept in it.
            with contextlib.suppress(OSError):
                rec.directory.rmdir()
        if self._link is not None:
            self._link.emit(
                RecordingFinished(
                    room_id=rec.room_id,
                    user_id=None,
                    peer_id=None,
                    time=utcnow(),
                    started=rec.started,
                    ended=utcnow(),
                    files=tuple(rec.files),
                    failed=tuple(rec.failed),
                )
            )
