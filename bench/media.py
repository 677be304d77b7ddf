"""Server CPU of the server-side media peers: one echo stream and one recorded stream
(VP8, 640×480, 30 frames/s), next to aiortc's bare VP8 decode, decode+VP8 encode and
decode+H.264 encode of the same frames, measured in the same run.

The echo and the recorder run in a child process (``--serve echo|record``), so its CPU time
is theirs alone; the aiortc clients that send the video run here. Figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.codecs import depayload, get_decoder, get_encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from .common import REPO, cpu_seconds, machine, python_env, table

WIDTH, HEIGHT, FPS = 640, 480, 30
VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def pattern(count: int) -> list[av.VideoFrame]:
    """Frames with motion and texture, so the encoders do real work (a flat frame costs little)."""
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = []
    for i in range(count):
        image = texture.copy()
        wave = ((xs + 8 * i) % 256).astype(np.uint8)
        image[:, :, 0] = (image[:, :, 0] // 4 + wave // 2).astype(np.uint8)
        cy, cx = HEIGHT // 2 + int(80 * np.sin(i / 9)), WIDTH // 2 + int(160 * np.cos(i / 11))
        image[(ys - cy) ** 2 + (xs - cx) ** 2 < 60**2] = (230, 200, 180)
        frames.append(av.VideoFrame.from_ndarray(image, "rgb24").reformat(format="yuv420p"))
    return frames


class PatternTrack(VideoStreamTrack):  # type: ignore[misc]
    """A camera stand-in cycling through the pattern at 30 frames/s."""

    def __init__(self, frames: list[av.VideoFrame]) -> None:
        super().__init__()
        self.frames = frames
        self.index = 0

    async def recv(self) -> av.VideoFrame:
        """The next frame, paced."""
        pts, time_base = await self.next_timestamp()
        # The frames are reused: the sender encodes each one before asking for the next.
        frame = self.frames[self.index % len(self.frames)]
        self.index += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


# bare codecs ----------------------------------------------------------------------------------


def bare(frames: list[av.VideoFrame], count: int) -> dict[str, float]:
    """CPU seconds per frame of decode-only, decode+VP8 and decode+H.264, same bitstream."""
    encoder = get_encoder(VP8)
    stream: list[bytes] = []
    for i in range(count):
        frame = frames[i % len(frames)]
        frame.pts, frame.time_base = i * 3000, Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, force_keyframe=i == 0)
        stream.append(b"".join(depayload(VP8, p) for p in payloads))

    def decode_all(then: Any = None) -> float:
        decoder = get_decoder(VP8)
        start = time.process_time()
        for i, data in enumerate(stream):
            for decoded in decoder.decode(JitterFrame(data, i * 3000)):
                if then is not None:
                    then(decoded, i)
        return (time.process_time() - start) / count

    vp8 = get_encoder(VP8)

    def to_vp8(frame: av.VideoFrame, i: int) -> None:
        vp8.encode(frame, force_keyframe=i == 0)

    h264 = av.CodecContext.create("libx264", "w")
    h264.width, h264.height, h264.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    h264.time_base = Fraction(1, FPS)

    def to_h264(frame: av.VideoFrame, i: int) -> None:
        frame.pts, frame.time_base = i, Fraction(1, FPS)
        h264.encode(frame)

    return {
        "decode": decode_all(),
        "decode+vp8": decode_all(to_vp8),
        "decode+h264": decode_all(to_h264),
    }


# the child process: an echo service or a recorder -----------------------------------------------


async def serve(kind: str) -> None:
    """Answer offers read from stdin; report own CPU on request."""
    from signaling.media import EchoService, Recorder

    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[str] = asyncio.Queue()

    class Link:
        def send_to_peer(self, room_id: str, peer_id: str, frame: dict[str, Any]) -> None:
            if frame.get("type") == "answer":
                answers.put_nowait(str(frame["sdp"]))

        def emit(self, event: Any) -> None:
            pass

        def spawn(self, coro: Awaitable[None]) -> None:
            asyncio.ensure_future(coro)

        def recording_failed(self, room_id: str, message: str) -> None:
            print(json.dumps({"failed": message}), file=sys.stderr, flush=True)

        def tell_moderators(self, room_id: str, frame: dict[str, Any]) -> None:
            pass

    echo = EchoService(max_peers=64, max_seconds=3600)
    directory = Path(tempfile.mkdtemp(prefix="telemed-bench-"))
    recorder = Recorder(directory)
    recorder.bind(Link())
    await recorder.start("bench")
    count = 0
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        request = json.loads(line)
        reply: dict[str, Any] = {}
        if request["cmd"] == "offer":
            count += 1
            if kind == "echo":
                reply["sdp"] = (await echo.answer(request["sdp"])).sdp
            else:
                recorder.signal(
                    "bench",
                    {"peer_id": f"p{count}", "user_id": f"u{count}", "name": f"bench {count}"},
                    "offer",
                    {"sdp": request["sdp"]},
                )
                reply["sdp"] = await answers.get()
        elif request["cmd"] == "quit":
            break
        print(json.dumps(reply), flush=True)
    await echo.aclose()
    await recorder.stop("bench")
    await recorder.aclose()
    frames = 0
    for path in directory.rglob("*"):
        if path.is_file():
            with av.open(str(path)) as container:
                # Fragmented MP4 has no frame count in its header: count the packets.
                video = container.streams.video[0]
                frames += sum(1 for packet in container.demux(video) if packet.size)
            path.unlink()
    print(json.dumps({"frames": frames}), flush=True)


async def live(
    kind: str, frames: list[av.VideoFrame], streams: int, seconds: float
) -> tuple[float, float]:
    """CPU seconds per second of the child for `streams` streams (after a warm-up), and the
    frames per second per stream that went through it."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.media", "--serve", kind],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    assert child.stdin is not None and child.stdout is not None
    loop = asyncio.get_running_loop()

    async def ask(request: dict[str, Any]) -> dict[str, Any]:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(request) + "\n")
        child.stdin.flush()
        line = await loop.run_in_executor(None, child.stdout.readline)
        return dict(json.loads(line)) if line.strip() else {}

    pcs: list[RTCPeerConnection] = []
    echoed = [0]
    try:
        for _ in range(streams):
            pc = RTCPeerConnection()
            pc.addTrack(PatternTrack(frames))
            pcs.append(pc)
            if kind == "echo":

                @pc.on("track")
                def on_track(track: Any) -> None:
                    async def drain() -> None:
                        with contextlib.suppress(MediaStreamError):
                            while True:
                                await track.recv()
                                echoed[0] += 1

                    asyncio.ensure_future(drain())

            await pc.setLocalDescription(await pc.createOffer())
            answer = await ask({"cmd": "offer", "sdp": pc.localDescription.sdp})
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.sleep(3)  # warm-up: connections, key frames, bitrate ramp
        before, started, echoed_before = cpu_seconds(child.pid), time.monotonic(), echoed[0]
        await asyncio.sleep(seconds)
        used = cpu_seconds(child.pid) - before
        elapsed = time.monotonic() - started
        if kind == "echo":
            rate = (echoed[0] - echoed_before) / elapsed / streams
            await ask({"cmd": "quit"})
        else:
            total = float((await ask({"cmd": "quit"})).get("frames", 0))
            # Frames of the whole recording, warm-up included.
            rate = total / (elapsed + 3) / streams
        return used / elapsed, rate
    finally:
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


def report(codecs: dict[str, float], measured: dict[tuple[str, int], tuple[float, float]]) -> str:
    """The table of figures: CPU per frame, % of one core per 30 frames/s stream, and how many
    such streams one core carries."""
    rows: list[list[object]] = []
    for name, per_frame in codecs.items():
        share = per_frame * FPS
        rows.append(
            [
                f"bare {name}",
                1,
                FPS,
                f"{per_frame * 1000:.2f}",
                f"{100 * share:.1f}",
                f"{1 / share:.1f}" if share else "∞",
            ]
        )
    for (kind, streams), (per_second, rate) in measured.items():
        per_frame = per_second / streams / rate if rate else float("nan")
        share = per_frame * FPS
        rows.append(
            [
                f"{kind} (server peer)",
                streams,
                f"{rate:.1f}",
                f"{per_frame * 1000:.2f}",
                f"{100 * share:.1f}",
                f"{1 / share:.1f}" if share else "∞",
            ]
        )
    return table(
        [
            "what",
            "streams",
            "frames/s each",
            "CPU ms/frame",
            "% of a core per 30 fps stream",
            "streams per core",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    """Command line of the media benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--frames", type=int, default=300, help="frames for the bare codecs")
    parser.add_argument("--serve", choices=("echo", "record"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    frames = pattern(60)
    codecs = bare(frames, args.frames)
    measured: dict[tuple[str, int], tuple[float, float]] = {}
    for kind in ("echo", "record"):
        for streams in args.streams:
            measured[(kind, streams)] = asyncio.run(live(kind, frames, streams, args.seconds))
    print("## Server-side media peers (VP8 640×480 at 30 frames/s)\n")
    print(machine() + f", {os.cpu_count()} CPUs\n")
    print(report(codecs, measured))
    print(
        "\nEcho = VP8 decode + VP8 re-encode + SRTP both ways; recording = VP8 decode + "
        'H.264 encode into MP4 (the recorder). "streams per core" = 100 % / the share.'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
