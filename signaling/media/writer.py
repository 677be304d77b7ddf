"""One participant's received sound and picture, encoded into one fragmented MP4 file.

Written for the recorder instead of aiortc's MediaRecorder, which fixes the picture size when
the first packet of any track is written: when sound arrives first (often, by some tens of
milliseconds), the size is fixed at a default and the first picture then stops the video for
the rest of the file. Here nothing is written until the picture size is known: from the first
picture, or after `video_wait` seconds without one (camera off), from a default. Later
pictures are fitted to that size, so a camera switched on late still lands in the file, and
each track starts at the time its first frame arrived, so sound and picture stay in step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

# Fragmented MP4, cut at least every two seconds: what was written stays playable if the
# process dies mid-way. The header waits for the first fragment (not empty_moov), so that it
# records when each track starts: a picture arriving after the sound stays in step.
MP4_OPTIONS = {"movflags": "frag_keyframe+delay_moov+default_base_moof", "frag_duration": "2000000"}
DEFAULT_SIZE = (640, 360)
FRAME_RATE = 30
# Pictures waiting for the encoder beyond this are dropped: a few absorb arrival jitter, more
# would only grow memory on a machine too slow to keep up.
MAX_QUEUED_PICTURES = 3


@dataclass
class _Output:
    track: MediaStreamTrack
    stream: AudioStream | VideoStream
    sized: bool
    offset: float | None = None  # seconds from the writer's start to the track's first frame
    task: asyncio.Task[None] | None = None
    queued: int = 0  # frames handed to the writer's thread, not yet encoded
    frames: int = 0
    dropped: int = 0  # counted on the loop: the encoder was busy
    merged: int = 0  # counted on the writer's thread: same 1/30 s slot as the previous picture
    slot: int | None = None  # the last picture's time, in 1/30 s


class MediaWriter:
    """Encodes tracks into the file at `path` (AAC and H.264) from `start()` to `stop()`.

    Encoding and writing run on a thread of the writer's own (PyAV releases the GIL while it
    encodes), in the order frames arrived, so the server's event loop keeps serving the room.
    A picture that finds `MAX_QUEUED_PICTURES` waiting for the encoder is dropped: a slow
    machine records fewer pictures per second instead of queueing them without bound. Sound
    is never dropped.
    """

    def __init__(
        self,
        path: Path,
        *,
        on_error: Callable[[BaseException], None] | None = None,
        video_wait: float = 3.0,
        default_size: tuple[int, int] = DEFAULT_SIZE,
    ) -> None:
        self.path = path
        self.on_error = on_error
        self.video_wait = video_wait
        self.default_size = default_size
        # What stopped the writing (disk full, encoder failure); `on_error` hears it at once.
        self.error: BaseException | None = None
        self._container = av.open(str(path), mode="w", format="mp4", options=MP4_OPTIONS)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="media-writer")
        self._outputs: list[_Output] = []
        self._held: list[Packet[Any]] = []
        self._started: float | None = None
        self._stopped = False
        self._waiter: asyncio.Task[None] | None = None

    def add_track(self, track: MediaStreamTrack) -> None:
        """Write this track too; only before `start()`."""
        if self._stopped or self._started is not None:
            raise RuntimeError("tracks are added before the writer starts")
        stream: AudioStream | VideoStream
        if track.kind == "audio":
            stream = self._container.add_stream("aac")
        else:
            stream = self._container.add_stream("libx264", rate=FRAME_RATE)
            stream.pix_fmt = "yuv420p"
        self._outputs.append(_Output(track, stream, sized=isinstance(stream, AudioStream)))

    def frames(self, kind: str) -> int:
        """How many frames of this kind were encoded so far."""
        return sum(o.frames for o in self._outputs if o.track.kind == kind)

    def dropped(self, kind: str) -> int:
        """How many frames of this kind were dropped because the encoder was busy."""
        return sum(o.dropped + o.merged for o in self._outputs if o.track.kind == kind)

    async def start(self) -> None:
        """Begin pulling frames from every track."""
        self._started = time.monotonic()
        for output in self._outputs:
            output.task = asyncio.create_task(self._run(output))
        if not all(o.sized for o in self._outputs):
            self._waiter = asyncio.create_task(self._default_size_after_wait())

    async def stop(self) -> None:
        """Finish the file; idempotent. Raises what went wrong while writing, if anything."""
        if self._stopped:
            return
        self._stopped = True
        tasks = [t for t in (self._waiter, *(o.task for o in self._outputs)) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            # Queued behind every frame already handed to the thread.
            await asyncio.get_running_loop().run_in_executor(self._thread, self._finish)
        finally:
            self._thread.shutdown(wait=False)
        if self.error is not None:
            raise self.error

    async def _run(self, output: _Output) -> None:
        loop = asyncio.get_running_loop()
        video = isinstance(output.stream, VideoStream)
        while not self._stopped and self.error is None:
            try:
                frame = await output.track.recv()
            except MediaStreamError:
                return
            except Exception as exc:
                self._failed(exc)
                return
            if not isinstance(frame, AudioFrame | VideoFrame) or self._started is None:
                continue
            if output.offset is None:
                output.offset = time.monotonic() - self._started
            if video and output.queued >= MAX_QUEUED_PICTURES:
                output.dropped += 1
                continue
            output.queued += 1
            encoding = loop.run_in_executor(self._thread, self._encode, output, frame)
            encoding.add_done_callback(partial(self._encoded, output))

    def _encoded(self, output: _Output, done: asyncio.Future[None]) -> None:
        output.queued -= 1
        if not done.cancelled() and (exc := done.exception()) is not None:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        if self.error is not None:
            return
        self.error = exc
        if self.on_error is not None:
            self.on_error(exc)

    # on the writer's thread

    def _encode(self, output: _Output, frame: AudioFrame | VideoFrame) -> None:
        if self.error is not None:
            return
        if isinstance(output.stream, VideoStream) and not output.sized:
            assert isinstance(frame, VideoFrame)
            output.stream.width, output.stream.height = _even(frame.width), _even(frame.height)
            output.sized = True
        offset = output.offset or 0.0
        if isinstance(frame, VideoFrame) and frame.pts is not None and frame.time_base is not None:
            # The file has 30 pictures a second; a second picture in the same slot (a faster
            # camera, or jitter) would give two pictures one time, which MP4 refuses.
            slot = round((frame.pts * frame.time_base + Fraction(offset)) * FRAME_RATE)
            if output.slot is not None and slot <= output.slot:
                output.merged += 1
                return
            output.slot = slot
            frame.pts, frame.time_base = slot, Fraction(1, FRAME_RATE)
        elif offset and frame.pts is not None and frame.time_base is not None:
            frame.pts += round(offset / frame.time_base)
        # PyAV fits a picture of another (or an odd) size to the stream's size.
        for packet in output.stream.encode(frame):  # type: ignore[arg-type]
            self._mux(packet)
        output.frames += 1

    def _mux(self, packet: Packet[Any]) -> None:
        # The first packet written fixes every stream's parameters: wait for the picture size.
        if not all(o.sized for o in self._outputs):
            self._held.append(packet)
            return
        self._release()
        self._container.mux(packet)

    def _release(self) -> None:
        held, self._held = self._held, []
        for packet in held:
            self._container.mux(packet)

    def _size_the_rest(self) -> None:
        for output in self._outputs:
            if isinstance(output.stream, VideoStream) and not output.sized:
                output.stream.width, output.stream.height = self.default_size
                output.sized = True
        self._release()

    def _finish(self) -> None:
        try:
            if self.error is None and any(o.frames for o in self._outputs):
                self._size_the_rest()
                for output in self._outputs:
                    if output.frames:
                        for packet in output.stream.encode(None):
                            self._mux(packet)
        except Exception as exc:
            self.error = self.error or exc
        finally:
            self._container.close()

    # back on the loop

    async def _default_size_after_wait(self) -> None:
        await asyncio.sleep(self.video_wait)
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._size_the_rest)
        except Exception as exc:
            self._failed(exc)


class UnreadableRecording(Exception):
    """A recorded file that cannot be read back: damaged, or cut short before its first
    fragment. Such a file is kept where it is, never stored and never deleted."""


class Probe(NamedTuple):
    """What a recorded file holds."""

    duration: float
    audio: bool
    video: bool


def probe(path: Path) -> Probe:
    """Duration in seconds and whether the file holds sound and pictures (blocking); raises
    `UnreadableRecording` when the file cannot be read back.

    A stream counts only with a packet in it: a track that never delivered a frame still
    leaves an empty stream in the file. A file cut short may lack its duration: then the
    last packet's time tells it.
    """
    try:
        return _probe(path)
    except (av.FFmpegError, OSError) as exc:
        raise UnreadableRecording(f"{path.name}: {exc}") from exc


def _probe(path: Path) -> Probe:
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type in ("audio", "video")]
        kinds = {s.type for s in streams}
        found: set[str] = set()
        last = 0.0
        for packet in container.demux(*streams) if streams else ():
            if packet.size:
                found.add(packet.stream.type)
            if packet.pts is not None and packet.time_base is not None:
                last = max(last, float(packet.pts * packet.time_base))
            if found == kinds and container.duration:
                break
        duration = container.duration / 1_000_000 if container.duration else last
    return Probe(duration, "audio" in found, "video" in found)


def _even(size: int) -> int:
    # H.264 in 4:2:0 takes only even sizes; browsers adapting to load send odd ones (240x135).
    return max(2, size & ~1)
