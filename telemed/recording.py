"""Server-side media peers wired into the application: the network-test echo, and the
recorder whose finished files and consent decisions go into the record."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiortc import RTCIceServer

from records import access
from records.blobs import BlobStore
from records.db import SessionMaker
from records.errors import RecordsError
from records.services import attachments, recording_consents
from signaling import EventSink, RecordingConsent, RecordingFinished, RoomEvent, SignalingConfig
from signaling.echo import EchoBusy, EchoRejected, EchoService
from signaling.recorder import Recorder
from web.api.nettest import EchoRefused, EchoUnavailable, echo_key

from .settings import Settings

log = logging.getLogger(__name__)

CONTENT_TYPE = "video/mp4"


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
                    session=session, room_id=event.room_id, user_id=uuid.UUID(event.user_id),
                    accept=event.accept, at=event.time)
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
            consultation = await access.consultation_by_room(session=session,
                                                             room_id=event.room_id)
        if consultation is None:
            log.error("finished recording for unknown room %s kept at %s", event.room_id,
                      [str(f.path) for f in event.files])
            return
        participants = [{"user_id": f.user_id, "name": f.name, "facility": f.facility}
                        for f in event.files]
        for file in event.files:
            meta = {
                "duration": round(file.duration, 2),
                "participant": {"user_id": file.user_id, "name": file.name,
                                "facility": file.facility},
                "participants": participants,
                "started": file.started.isoformat(), "ended": file.ended.isoformat(),
                "recording_started": event.started.isoformat(),
                "audio": file.audio, "video": file.video, "room_id": event.room_id,
            }
            try:
                async with self._sessions() as session:
                    await attachments.store_recording(
                        session=session, blobs=self._blobs, consultation_id=consultation.id,
                        path=file.path, content_type=CONTENT_TYPE, meta=meta)
            except (RecordsError, OSError):
                log.exception("could not store the recording %s; the file is kept", file.path)


@dataclass
class Media:
    """What the application factory passes on to signalling."""

    recorder: Recorder
    echo: EchoService

    def sink(self, inner: EventSink, *, sessions: SessionMaker,
             blobs: BlobStore) -> MediaEventSink:
        """The event sink that also stores recordings and consents."""
        return MediaEventSink(inner, sessions=sessions, blobs=blobs)


def setup_media(app: web.Application, *, settings: Settings,
                config: SignalingConfig) -> Media:
    """Create the echo service and the recorder; register the echo for the API and its
    lifetime (the recorder's lifetime is the signalling registry's)."""
    servers = stun_servers(config)
    echo = EchoService(max_peers=settings.echo_max_peers,
                       max_seconds=settings.echo_max_seconds, ice_servers=servers)
    recorder = Recorder(settings.data_dir / "recordings", ice_servers=servers)
    app[echo_key] = EchoAdapter(echo)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        async with echo.running():
            yield

    app.cleanup_ctx.append(lifetime)
    return Media(recorder=recorder, echo=echo)
