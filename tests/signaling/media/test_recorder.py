"""Consent-based recording with real aiortc clients: files per consenting participant."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiortc import (
    AudioStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from doubles import MemoryAuthorizer, MemoryEventSink
from rtcpeer import SizedVideo, lose_one_packet
from sighelpers import FAST, Client, Harness, identity

from signaling import (
    RecordingChanged,
    RecordingConsent,
    RecordingFinished,
    setup_signaling,
)
from signaling.media.recorder import Recorder
from signaling.media.writer import probe
from signaling.ports import RECORDER_ID

pytestmark = pytest.mark.usefixtures("ice_host")

CHAIR = identity("chair", moderator=True)
DOCTOR = identity("doctor")


@contextlib.asynccontextmanager
async def recording_app(directory: Path) -> AsyncIterator[tuple[Harness, Recorder]]:
    """An app whose signalling has a real recorder writing under `directory`."""
    app = web.Application()
    auth, sink = MemoryAuthorizer(), MemoryEventSink()
    recorder = Recorder(directory)
    setup_signaling(app, config=FAST, authorizer=auth, sink=sink, recorder=recorder)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    harness = Harness(server, auth, sink, FAST)
    try:
        yield harness, recorder
    finally:
        await harness.close()
        await server.close()


class RecordedClient:
    """A participant sending audio and video to the recorder over its own connection."""

    def __init__(self, client: Client, video: VideoStreamTrack | None = None) -> None:
        self.client = client
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(AudioStreamTrack())
        self.pc.addTrack(video or VideoStreamTrack())

    async def send_media(self) -> None:
        """Offer to the recorder, apply its answer, wait until connected."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.client.send(type="offer", to=RECORDER_ID, sdp=self.pc.localDescription.sdp)
        answer = await self.client.expect("answer", lambda f: f.get("from") == RECORDER_ID)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

        async def connected() -> None:
            while self.pc.connectionState != "connected":
                await asyncio.sleep(0.05)
        await asyncio.wait_for(connected(), 30)

    async def close(self) -> None:
        """Close the media connection."""
        await self.pc.close()


def streams(path: Path) -> dict[str, float]:
    """Each stream type of a file with its duration in seconds."""
    with av.open(str(path)) as container:
        out: dict[str, float] = {}
        for stream in container.streams:
            assert stream.duration is not None and stream.time_base is not None
            out[stream.type] = float(stream.duration * stream.time_base)
        return out


async def start(app: Harness) -> tuple[Client, Client]:
    """Chair and doctor in a room; the chair switches recording on; both are asked."""
    chair = await app.connect("rec", CHAIR)
    doctor = await app.connect("rec", DOCTOR)
    await chair.send(type="record", on=True)
    for client in (chair, doctor):
        assert (await client.expect("recording"))["on"] is True
        request = await client.expect("recording-consent-request")
        assert request["recorder"] == RECORDER_ID
    return chair, doctor


async def test_recording_with_one_participant_declining(tmp_path: Path) -> None:
    async with recording_app(tmp_path) as (app, recorder):
        chair, doctor = await start(app)
        # No media before consent.
        await doctor.send(type="offer", to=RECORDER_ID, sdp="v=0", id=1)
        assert (await doctor.expect("error"))["code"] == "consent-required"
        await chair.send(type="recording-consent", accept=True)
        await doctor.send(type="recording-consent", accept=False)
        for client in (chair, doctor):
            seen = {(f["peer_id"], f["accept"]) for f in [
                await client.expect("recording-consent"),
                await client.expect("recording-consent")]}
            assert seen == {(chair.peer_id, True), (doctor.peer_id, False)}
        await doctor.send(type="offer", to=RECORDER_ID, sdp="v=0", id=2)
        assert (await doctor.expect("error"))["code"] == "consent-required"

        media = RecordedClient(chair)
        try:
            await media.send_media()
            assert recorder.connections() == 1
            await asyncio.sleep(5)  # five seconds of media
            await chair.send(type="record", on=False)
            assert (await doctor.expect("recording"))["on"] is False
            finished = await app.sink.wait_for(RecordingFinished)
        finally:
            await media.close()

        event = finished[0]
        assert isinstance(event, RecordingFinished)
        assert event.failed == ()
        assert [f.user_id for f in event.files] == ["chair"]
        file = event.files[0]
        assert file.audio and file.video and file.path.exists()
        found = streams(file.path)
        assert set(found) == {"audio", "video"}
        for seconds in found.values():
            assert 3.5 <= seconds <= 8.0, found
        assert 3.5 <= file.duration <= 8.0
        # Only the consenting participant has a file.
        assert [p.name for p in file.path.parent.iterdir()] == [file.path.name]
        consents = [e for e in app.sink.events if isinstance(e, RecordingConsent)]
        assert {(e.user_id, e.accept) for e in consents} == {("chair", True), ("doctor", False)}
        assert recorder.connections() == 0


async def chair_records(
    app: Harness, seconds: float, video: VideoStreamTrack | None = None, lose: int = 0
) -> Any:
    """The chair alone consents and sends media for `seconds` (losing packet `lose` of its
    video for good, when set), then stops the recording: the one file recorded."""
    chair, _ = await start(app)
    await chair.send(type="recording-consent", accept=True)
    media = RecordedClient(chair, video)
    try:
        await media.send_media()
        if lose:
            (sender,) = [s for s in media.pc.getSenders() if s.track and s.track.kind == "video"]
            sent = lose_one_packet(sender, after=lose)
        await asyncio.sleep(seconds)
        if lose:
            assert sent[0] > lose
        await chair.send(type="record", on=False)
        finished: list[Any] = await app.sink.wait_for(RecordingFinished)
    finally:
        await media.close()
    assert finished[0].failed == ()
    (file,) = finished[0].files
    return file


async def test_odd_and_changing_picture_sizes_are_recorded(tmp_path: Path) -> None:
    # Browsers scale their video down under load (640x360 to 240x135), which H.264 cannot
    # take as it is; the first picture fixes the file's size, later ones are fitted to it.
    sizes = [(240, 135), (320, 180), (427, 241)]
    async with recording_app(tmp_path) as (app, _):
        file = await chair_records(app, 5, video=SizedVideo(sizes, frames_each=45))
    found = streams(file.path)
    assert set(found) == {"audio", "video"}
    assert 3.5 <= found["video"] <= 8.0, found
    with av.open(str(file.path)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) > 60
    assert {(f.width, f.height) for f in frames} == {(240, 134)}


async def test_a_video_packet_lost_for_good_costs_a_second_not_the_file(tmp_path: Path) -> None:
    async with recording_app(tmp_path) as (app, _):
        file = await chair_records(app, 5, lose=10)
    with av.open(str(file.path)) as container:
        seconds = sorted(float(f.time) for f in container.decode(video=0) if f.time is not None)
    # Pictures from after the loss, and no hole longer than the buffer's wait plus a
    # keyframe's round trip.
    assert seconds[-1] - seconds[0] >= 3.5
    assert max(b - a for a, b in zip(seconds, seconds[1:], strict=False)) < 2.0


async def test_session_end_stops_the_recording(tmp_path: Path) -> None:
    async with recording_app(tmp_path) as (app, recorder):
        chair, doctor = await start(app)
        await doctor.send(type="recording-consent", accept=True)
        media = RecordedClient(doctor)
        try:
            await media.send_media()
            await asyncio.sleep(1)
            await chair.send(type="end")
            assert (await doctor.expect("ended"))["by"] == chair.peer_id
            finished = await app.sink.wait_for(RecordingFinished)
        finally:
            await media.close()
        files = finished[0].files  # type: ignore[attr-defined]
        assert [f.user_id for f in files] == ["doctor"]
        assert set(streams(files[0].path)) == {"audio", "video"}
        assert not recorder.recording("rec")


async def test_newcomer_is_asked_and_withdrawal_finishes_its_file(tmp_path: Path) -> None:
    async with recording_app(tmp_path) as (app, recorder):
        chair, doctor = await start(app)
        late = await app.connect("rec", identity("late"))
        assert late.welcome["recording"] is True
        await late.expect("recording-consent-request")
        await late.send(type="recording-consent", accept=True)
        media = RecordedClient(late)
        try:
            await media.send_media()
            await asyncio.sleep(1)
            await late.send(type="recording-consent", accept=False)

            async def released() -> None:
                while recorder.connections():
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(released(), 15)
        finally:
            await media.close()
        await chair.send(type="record", on=False)
        finished = await app.sink.wait_for(RecordingFinished)
        assert [f.user_id for f in finished[0].files] == ["late"]  # type: ignore[attr-defined]


async def test_recorder_failure_is_told_to_the_room(tmp_path: Path) -> None:
    async with recording_app(tmp_path) as (app, recorder):
        chair, doctor = await start(app)
        await doctor.send(type="recording-consent", accept=True)
        # The storage disappears under the recorder.
        shutil.rmtree(tmp_path)
        media = RecordedClient(doctor)
        try:
            await media.pc.setLocalDescription(await media.pc.createOffer())
            await doctor.send(type="offer", to=RECORDER_ID, sdp=media.pc.localDescription.sdp)
            off = await chair.expect("recording", lambda f: f["on"] is False)
            assert off["reason"] == "failed"
            assert (await chair.expect("error"))["code"] == "recorder-failed"
            assert (await doctor.expect("recording", lambda f: f["on"] is False))["by"] is None
        finally:
            await media.close()
        changes: list[Any] = await app.sink.wait_for(RecordingChanged, 2)
        assert [e.on for e in changes] == [True, False]
        finished: list[Any] = await app.sink.wait_for(RecordingFinished)
        assert finished[0].files == () and finished[0].failed


async def test_a_writer_that_fails_fails_the_recording(tmp_path: Path) -> None:
    async with recording_app(tmp_path) as (app, recorder):
        chair, doctor = await start(app)
        await doctor.send(type="recording-consent", accept=True)
        media = RecordedClient(doctor)
        try:
            await media.send_media()
            (segment,) = [
                p.segment for r in recorder._rooms.values() for p in r.peers.values() if p.segment
            ]
            # What a full disk under the writer's thread reports.
            segment.writer._failed(OSError(28, "No space left on device"))
            off = await chair.expect("recording", lambda f: f["on"] is False)
            assert off["reason"] == "failed"
            error = await chair.expect("error")
            assert error["code"] == "recorder-failed" and "stopped writing" in error["message"]
        finally:
            await media.close()
        finished: list[Any] = await app.sink.wait_for(RecordingFinished)
        assert finished[0].failed


async def test_consent_without_recording_is_an_error(tmp_path: Path) -> None:
    async with recording_app(tmp_path) as (app, _):
        chair = await app.connect("idle", CHAIR)
        await chair.send(type="recording-consent", accept=True, id=5)
        error = await chair.expect("error")
        assert (error["code"], error["id"]) == ("not-recording", 5)
        await chair.send(type="offer", to=RECORDER_ID, sdp="v=0", id=6)
        assert (await chair.expect("error"))["code"] == "not-recording"


async def test_shutdown_finishes_every_room(tmp_path: Path) -> None:
    async with recording_app(tmp_path) as (app, recorder):
        media: list[RecordedClient] = []
        try:
            for room in ("rec-a", "rec-b"):
                chair = await app.connect(room, identity(f"chair-{room}", moderator=True))
                await chair.send(type="record", on=True)
                await chair.expect("recording-consent-request")
                await chair.send(type="recording-consent", accept=True)
                await chair.expect("recording-consent")
                media.append(RecordedClient(chair))
                await media[-1].send_media()
            await asyncio.sleep(1)
            await app.server.close()
        finally:
            await asyncio.gather(*(m.close() for m in media))
        finished: list[Any] = await asyncio.wait_for(app.sink.wait_for(RecordingFinished, 2), 30)
        assert {e.room_id for e in finished} == {"rec-a", "rec-b"}
        assert all(len(e.files) == 1 and e.files[0].video for e in finished)
        assert recorder.closed and recorder.connections() == 0


def test_an_empty_stream_is_not_reported_as_picture(tmp_path: Path) -> None:
    # What a video track that never delivered a frame leaves behind: a stream, no packets.
    path = tmp_path / "sound-only.mp4"
    with av.open(str(path), mode="w") as container:
        audio = container.add_stream("aac", rate=48_000)
        video = container.add_stream("libx264", rate=30)
        video.pix_fmt = "yuv420p"
        for number in range(50):
            frame = av.AudioFrame(format="s16", layout="stereo", samples=1024)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate, frame.pts = 48_000, number * 1024
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (audio, video):
            for packet in stream.encode(None):
                container.mux(packet)
    duration, has_audio, has_video = probe(path)
    assert (has_audio, has_video) == (True, False)
    assert 0.9 <= duration <= 1.3
