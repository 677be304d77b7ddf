"""Lost video packets: the buffer gives a missing packet up after a bounded wait, alone and
between two real aiortc peers whose sender never retransmits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    VideoStreamTrack,
)
from aiortc.rtp import RtpPacket
from rtcpeer import lose_one_packet

from signaling.media.rtp_recovery import (
    VIDEO_CLOCK_RATE,
    GapSkippingJitterBuffer,
    skip_lost_video_packets,
)

FPS = 30
TICKS = VIDEO_CLOCK_RATE // FPS


def packets(
    frames: int, per_frame: int, *, seq: int = 1000, ts: int = 5000
) -> Iterator[tuple[int, RtpPacket]]:
    """(frame number, packet) for `frames` frames of `per_frame` packets, at 30 per second."""
    for number in range(frames):
        for _ in range(per_frame):
            packet = RtpPacket(
                payload_type=96, sequence_number=seq, timestamp=(ts + number * TICKS) & 0xFFFFFFFF
            )
            packet._data = bytes([number % 256])  # type: ignore[attr-defined]
            yield number, packet
            seq = (seq + 1) & 0xFFFF


def feed(
    buffer: GapSkippingJitterBuffer, stream: Iterator[tuple[int, RtpPacket]], lost: set[int]
) -> tuple[list[int], int]:
    """Frames that come out (by number) and how many keyframe requests, dropping `lost`."""
    out: list[int] = []
    plis = 0
    first = None
    for index, (_, packet) in enumerate(stream):
        if index in lost:
            continue
        first = packet.timestamp if first is None else first
        pli, frame = buffer.add(packet)
        plis += pli
        if frame is not None:
            out.append(((frame.timestamp - first) & 0xFFFFFFFF) // TICKS)
    return out, plis


@pytest.mark.parametrize(("seq", "ts"), [(1000, 5000), (65_500, 0xFFFFFFFF - 20 * TICKS)])
def test_a_lost_packet_is_given_up_after_a_second(seq: int, ts: int) -> None:
    buffer = GapSkippingJitterBuffer(give_up_seconds=1.0)
    # Frame 10 loses its middle packet, for good (sequence numbers and clock may wrap).
    out, plis = feed(buffer, packets(120, 3, seq=seq, ts=ts), lost={31})
    assert 10 not in out
    assert out == sorted(out) and len(set(out)) == len(out)
    assert buffer.skipped == 1 and plis == 1
    # Frames after the broken one come out, none lost; the buffer catches up with the stream.
    assert out[:9] == list(range(9))
    after = [n for n in out if n > 10]
    assert after == list(range(11, 11 + len(after)))
    assert after[-1] >= 110


def test_a_late_retransmission_within_the_wait_loses_nothing() -> None:
    buffer = GapSkippingJitterBuffer(give_up_seconds=1.0)
    stream = list(packets(60, 3))
    # Packet 31 arrives a third of a second late, as a retransmission would.
    late = stream.pop(31)
    stream.insert(31 + 30, late)
    out, plis = feed(buffer, iter(stream), lost=set())
    assert buffer.skipped == 0 and plis == 0
    assert out == list(range(len(out))) and len(out) >= 58


def test_the_wait_must_be_positive() -> None:
    with pytest.raises(ValueError, match="give_up_seconds"):
        GapSkippingJitterBuffer(give_up_seconds=0)


class _Counter:
    """Counts the frames a received track delivers."""

    def __init__(self) -> None:
        self.frames = 0
        self.task: asyncio.Task[None] | None = None

    def consume(self, track: MediaStreamTrack) -> None:
        async def run() -> None:
            with contextlib.suppress(Exception):
                while True:
                    await track.recv()
                    self.frames += 1

        self.task = asyncio.create_task(run())


async def test_video_resumes_between_real_peers_after_an_unrecoverable_loss() -> None:
    sending = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiving = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    counter = _Counter()
    receiving.on("track", counter.consume)
    try:
        sender = sending.addTrack(VideoStreamTrack())
        await sending.setLocalDescription(await sending.createOffer())
        await receiving.setRemoteDescription(sending.localDescription)
        assert skip_lost_video_packets(receiving) == 1
        (transceiver,) = receiving.getTransceivers()
        buffer = transceiver.receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]
        assert isinstance(buffer, GapSkippingJitterBuffer)
        await receiving.setLocalDescription(await receiving.createAnswer())
        await sending.setRemoteDescription(receiving.localDescription)

        async def connected() -> None:
            while sending.connectionState != "connected" or sender.transport.state != "connected":
                await asyncio.sleep(0.05)

        await asyncio.wait_for(connected(), 20)
        sent = lose_one_packet(sender, after=15)

        async def lost_and_skipped() -> None:
            while sent[0] <= 15 or buffer.skipped == 0:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(lost_and_skipped(), 20)
        before = counter.frames

        async def flowing_again() -> None:
            while counter.frames < before + 30:
                await asyncio.sleep(0.05)

        # A second of picture after the gap was given up (aiortc alone: nothing for 512 packets).
        await asyncio.wait_for(flowing_again(), 20)
        assert buffer.skipped == 1
    finally:
        await sending.close()
        await receiving.close()
        if counter.task is not None:
            counter.task.cancel()
