"""The recorder's file writer with real aiortc tracks: picture size, late cameras, failures."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import av
import pytest
from aiortc import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from av.frame import Frame
from rtcpeer import SizedVideo

from signaling.media.writer import MediaWriter, UnreadableRecording, probe


class Late(MediaStreamTrack):
    """Another track's frames, the first one only after `delay` seconds."""

    def __init__(self, inner: MediaStreamTrack, delay: float) -> None:
        super().__init__()
        self.kind = inner.kind
        self.inner = inner
        self.delay = delay

    async def recv(self) -> Frame:
        """The inner track's next frame."""
        if self.delay:
            await asyncio.sleep(self.delay)
            self.delay = 0
        frame = await self.inner.recv()
        assert isinstance(frame, Frame)
        return frame


class Broken(MediaStreamTrack):
    """A track whose source fails after a few frames."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.inner = AudioStreamTrack()
        self.left = 5

    async def recv(self) -> Frame:
        """A few frames, then an error."""
        self.left -= 1
        if self.left < 0:
            raise OSError("the source is gone")
        frame = await self.inner.recv()
        assert isinstance(frame, Frame)
        return frame


class Flood(MediaStreamTrack):
    """Large pictures a thousand times a second: far faster than H.264 can encode them."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    async def recv(self) -> Frame:
        """The next blank 1280x720 picture, a millisecond after the last."""
        await asyncio.sleep(0.001)
        frame = av.VideoFrame(1280, 720, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts, frame.time_base = self.sent * 90, Fraction(1, 90_000)
        self.sent += 1
        return frame


def first_times(path: Path) -> dict[str, float]:
    """When each stream's first frame plays, in seconds."""
    out: dict[str, float] = {}
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            kind = "video" if isinstance(frame, av.VideoFrame) else "audio"
            if kind not in out and frame.time is not None:
                out[kind] = float(frame.time)
    return out


async def write(path: Path, seconds: float, *tracks: MediaStreamTrack, **options: float) -> None:
    """Write the tracks into `path` for `seconds`."""
    writer = MediaWriter(path, **options)  # type: ignore[arg-type]
    for track in tracks:
        writer.add_track(track)
    await writer.start()
    await asyncio.sleep(seconds)
    await writer.stop()
    await writer.stop()  # idempotent


async def test_sound_arriving_first_does_not_fix_the_picture_size(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    video = Late(SizedVideo([(320, 180)], frames_each=1000), delay=0.4)
    await write(path, 2.5, AudioStreamTrack(), video)
    duration, audio, has_video = probe(path)
    assert (audio, has_video) == (True, True)
    with av.open(str(path)) as container:
        sizes = {(f.width, f.height) for f in container.decode(video=0)}
    assert sizes == {(320, 180)}
    # The picture starts where it arrived, not at the start of the sound.
    starts = first_times(path)
    assert 0.25 <= starts["video"] - starts["audio"] <= 0.9, starts


async def test_a_camera_switched_on_late_is_fitted_and_kept_in_step(tmp_path: Path) -> None:
    path = tmp_path / "late.mp4"
    video = Late(SizedVideo([(1280, 720)], frames_each=1000), delay=1.5)
    await write(path, 3.5, AudioStreamTrack(), video, video_wait=0.5)
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert frames and {(f.width, f.height) for f in frames} == {(640, 360)}
    starts = first_times(path)
    assert 1.2 <= starts["video"] - starts["audio"] <= 2.0, starts


async def test_sound_alone_when_no_picture_ever_comes(tmp_path: Path) -> None:
    path = tmp_path / "sound.mp4"
    await write(path, 1.5, AudioStreamTrack(), Late(VideoStreamTrack(), delay=60), video_wait=0.3)
    duration, audio, video = probe(path)
    assert (audio, video) == (True, False)
    assert 0.8 <= duration <= 2.0


async def test_pictures_faster_than_the_encoder_are_dropped_not_queued(tmp_path: Path) -> None:
    path = tmp_path / "flood.mp4"
    writer = MediaWriter(path)
    flood = Flood()
    writer.add_track(AudioStreamTrack())
    writer.add_track(flood)
    await writer.start()
    await asyncio.sleep(2)
    await writer.stop()
    encoded, dropped = writer.frames("video"), writer.dropped("video")
    # Every picture was either encoded or dropped; what was encoded is in the file.
    assert encoded > 0 and dropped > 0
    assert flood.sent - 1 <= encoded + dropped <= flood.sent
    assert writer.dropped("audio") == 0 and writer.frames("audio") > 50
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == encoded


async def test_a_failing_source_is_reported(tmp_path: Path) -> None:
    heard: list[BaseException] = []
    writer = MediaWriter(tmp_path / "broken.mp4", on_error=heard.append)
    writer.add_track(Broken())
    await writer.start()
    for _ in range(100):
        if writer.error is not None:
            break
        await asyncio.sleep(0.05)
    assert isinstance(writer.error, OSError)
    assert heard == [writer.error]  # told once, as it happened
    with pytest.raises(OSError, match="source is gone"):
        await writer.stop()
    with pytest.raises(RuntimeError):
        writer.add_track(AudioStreamTrack())


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 512])
def test_a_file_that_cannot_be_read_back_is_named_so(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(content)
    with pytest.raises(UnreadableRecording):
        probe(path)
    with pytest.raises(UnreadableRecording):
        probe(tmp_path / "missing.mp4")
