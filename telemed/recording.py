"""Server-side media peers wired into the application: the network-test echo, and the
recorder whose finished files and consent decisions go into the record."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiortc import RTCIceServer

from records import access
from records.blobs import BlobStore
from records.db import SessionMaker
from records.errors import RecordsError
from records.services import attachments, recording_consents
from signaling import EventSink, RecordingConsent, RecordingFinished, RoomEvent, SignalingConfig
from signaling.media import (
    EchoBusy,
    EchoRejected,
    EchoService,
    Recorder,
    UnreadableRecording,
    probe,
)
from web.api.nettest import EchoRefused, EchoUnavailable, echo_key

from .settings import Settings

log = logging.getLogger(__name__)

CONTENT_TYPE = "video/mp4"
# A file untouched for this long belongs to no live recording (one writes every two seconds),
# so it was left by a process that died: it is safe to store it, even with several processes.
ORPHAN_AGE_SECONDS = 600.0


def stun_servers(config: SignalingConfig) -> list[RTCIceServer]:
    """STUN servers for the server's own peers (host candidates are enough on most links)."""
    return [RTCIceServer(urls=list(config.stun_urls))] if config.stun_urls else []


class EchoAdapter:
    """The signalling echo service as the web layer's `NetworkEcho`."""

    def __init__(self, service: EchoService) -> None:
        self.service = service

    async def answer(self, sdp: str) -> dict[str, Any]:
        """Answer an offer; translate the echo's refusals for the web layer."""
        try:
            answer = await self.service.answer(sdp)
        except EchoBusy:
            raise EchoUnavailable() from None
        except EchoRejected as exc:
            raise EchoRefused(str(exc)) from None
        return {"id": answer.echo_id, "sdp": answer.sdp, "max_seconds": answer.max_seconds}

    async def close(self, echo_id: str) -> bool:
        """Close an echo peer early."""
        return await self.service.close(echo_id)


class MediaEventSink:
    """Stores consent decisions and finished recordings, then passes every event on."""

    def __init__(self, inner: EventSink, *, sessions: SessionMaker, blobs: BlobStore) -> None:
        self.inner = inner
        self._sessions = sessions
        self._blobs = blobs

    async def publish(self, event: RoomEvent) -> None:
        """Record one room event."""
        if isinstance(event, RecordingConsent) and event.user_id:
            async with self._sessions() as session:
                await recording_consents.record_consent(
                    session=session,
                    room_id=event.room_id,
                    user_id=uuid.UUID(event.user_id),
                    accept=event.accept,
                    at=event.time,
                )
        elif isinstance(event, RecordingFinished):
            await self.store(event)
        await self.inner.publish(event)

    async def store(self, event: RecordingFinished) -> None:
        """Each participant's file becomes an attachment (kind recording) of the consultation."""
        if event.failed:
            log.warning("recording of room %s had failures: %s", event.room_id, event.failed)
        if not event.files:
            return
        async with self._sessions() as session:
            consultation = await access.consultation_by_room(session=session, room_id=event.room_id)
        if consultation is None:
            log.error(
                "finished recording for unknown room %s kept at %s",
                event.room_id,
                [str(f.path) for f in event.files],
            )
            return
        participants = [
            {"user_id": f.user_id, "name": f.name, "facility": f.facility} for f in event.files
        ]
        for file in event.files:
            meta = {
                "duration": round(file.duration, 2),
                "participant": {
                    "user_id": file.user_id,
                    "name": file.name,
                    "facility": file.facility,
                },
                "participants": participants,
                "started": file.started.isoformat(),
                "ended": file.ended.isoformat(),
                "recording_started": event.started.isoformat(),
                "audio": file.audio,
                "video": file.video,
                "room_id": event.room_id,
            }
            try:
                async with self._sessions() as session:
                    await attachments.store_recording(
                        session=session,
                        blobs=self._blobs,
                        consultation_id=consultation.id,
                        path=file.path,
                        content_type=CONTENT_TYPE,
                        meta=meta,
                    )
            except (RecordsError, OSError):
                log.exception("could not store the recording %s; the file is kept", file.path)


def _orphans(directory: Path, min_age: float) -> list[Path]:
    """Recording files under `directory` that no live recording is writing."""
    now = time.time()
    return sorted(
        path
        for path in directory.glob("*/*/*.mp4")
        if path.is_file() and now - path.stat().st_mtime >= min_age
    )


async def recover_orphans(
    directory: Path,
    *,
    sessions: SessionMaker,
    blobs: BlobStore,
    min_age: float = ORPHAN_AGE_SECONDS,
) -> int:
    """Store the recordings a crashed process left behind; return how many were stored.

    Files are laid out by the recorder as ``<room_id>/<start>/<user_id>-<peer>-<n>.mp4``.
    A file that cannot be read or placed is kept where it is and logged.
    """
    if not directory.is_dir():
        return 0
    stored = 0
    for path in _orphans(directory, min_age):
        room_id = path.parent.parent.name
        if path.stat().st_size == 0:
            path.unlink(missing_ok=True)  # the recorder touched it but no media ever came
            continue
        try:
            user_id = str(uuid.UUID(path.name[:36]))
        except ValueError:
            log.error("recording %s was not named by the recorder and is kept", path)
            continue
        try:
            duration, audio, video = await asyncio.to_thread(probe, path)
        except UnreadableRecording as exc:
            log.error("unreadable recording %s is kept: %s", path, exc)
            continue
        async with sessions() as session:
            consultation = await access.consultation_by_room(session=session, room_id=room_id)
        if consultation is None:
            log.error("recording %s of an unknown room is kept", path)
            continue
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        meta = {
            "duration": round(duration, 2),
            "audio": audio,
            "video": video,
            "participant": {"user_id": user_id},
            "room_id": room_id,
            "ended": modified.isoformat(),
            "recovered": True,
        }
        try:
            async with sessions() as session:
                await attachments.store_recording(
                    session=session,
                    blobs=blobs,
                    consultation_id=consultation.id,
                    path=path,
                    content_type=CONTENT_TYPE,
                    meta=meta,
                )
        except (RecordsError, OSError):
            log.exception("could not store the recovered recording %s; the file is kept", path)
            continue
        stored += 1
        for folder in (path.parent, path.parent.parent):
            try:
                folder.rmdir()
            except OSError:
                break  # not empty: other files of that recording are still there
    if stored:
        log.warning("stored %d recording file(s) left by a stopped server", stored)
    return stored


@dataclass
class Media:
    """What the application factory passes on to signalling."""

    recorder: Recorder
    echo: EchoService

    def sink(self, inner: EventSink, *, sessions: SessionMaker, blobs: BlobStore) -> MediaEventSink:
        """The event sink that also stores recordings and consents."""
        return MediaEventSink(inner, sessions=sessions, blobs=blobs)


def setup_media(
    app: web.Application,
    *,
    settings: Settings,
    config: SignalingConfig,
    sessions: SessionMaker,
    blobs: BlobStore,
) -> Media:
    """Create the echo service and the recorder; register the echo for the API and its
    lifetime (the recorder's lifetime is the signalling registry's). At start, recordings
    left by a server that died are stored in the background."""
    servers = stun_servers(config)
    echo = EchoService(
        max_peers=settings.echo_max_peers,
        max_seconds=settings.echo_max_seconds,
        ice_servers=servers,
    )
    directory = settings.data_dir / "recordings"
    recorder = Recorder(directory, ice_servers=servers)
    app[echo_key] = EchoAdapter(echo)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        recovery = asyncio.create_task(recover_orphans(directory, sessions=sessions, blobs=blobs))
        try:
            async with echo.running():
                yield
        finally:
            recovery.cancel()
            await asyncio.gather(recovery, return_exceptions=True)

    app.cleanup_ctx.append(lifetime)
    return Media(recorder=recorder, echo=echo)
