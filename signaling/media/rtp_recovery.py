"""Video receivers that skip a lost packet instead of freezing behind it.

aiortc's video jitter buffer (1.16) holds every later packet behind a missing one until 512
packets have arrived (aiortc/aiortc#1418). When NACK cannot bring the packet back, that is
10-20 seconds of frozen picture at the 200-300 kbit/s of a rural link, or of a browser that
has just connected: a recording whose video is missing while its sound runs on. Here the gap
is given up once the packets held behind it span `give_up_seconds` of media; the receiver then
asks the sender for a keyframe (PLI), so the picture returns within a round trip.

It replaces a private attribute of aiortc 1.16's receiver and subclasses its jitter buffer,
so pyproject.toml pins aiortc to 1.16.x: a newer aiortc is taken on purpose, after reading
its receiver again. If the attribute is gone, the receivers keep aiortc's own buffer and a
warning is logged; tests/signaling/media/test_rtp_recovery.py then fails.
"""

from __future__ import annotations

import logging

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

log = logging.getLogger(__name__)

# RTP clock of every video codec aiortc speaks (RFC 7741, RFC 6184).
VIDEO_CLOCK_RATE = 90_000
# What aiortc itself uses for video.
CAPACITY = 512
# aiortc asks for a lost packet once (NACK); a retransmission takes one round trip, which
# stays well under a second even on a congested 3G link.
GIVE_UP_SECONDS = 1.0
# Where RTCRtpReceiver keeps its buffer (a private, name-mangled attribute of aiortc 1.16).
_BUFFER_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


class GapSkippingJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, giving up on a missing packet after a bounded wait."""

    def __init__(
        self, *, capacity: int = CAPACITY, give_up_seconds: float = GIVE_UP_SECONDS
    ) -> None:
        super().__init__(capacity, is_video=True)
        if give_up_seconds <= 0:
            raise ValueError("give_up_seconds must be positive")
        self.give_up_ticks = round(give_up_seconds * VIDEO_CLOCK_RATE)
        self.skipped = 0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Store a packet; the next complete frame, and whether to ask for a keyframe."""
        pli, frame = super().add(packet)
        if frame is not None:
            return pli, frame
        gap = self._blocking_gap(packet)
        if gap is None:
            return pli, None
        # Drop the gap and the rest of the frame it broke; later frames may need the lost
        # one as a reference, hence the keyframe request.
        self.smart_remove(gap + 1)
        self.skipped += 1
        return True, self._remove_frame(packet.sequence_number)

    def _blocking_gap(self, newest: RtpPacket) -> int | None:
        """Where the first missing packet is, if what waits behind it is too old to keep."""
        if self._origin is None:
            return None
        ahead = uint16_add(newest.sequence_number, -self._origin)
        if ahead >= self._capacity:
            return None
        gap: int | None = None
        reference: RtpPacket | None = None
        for index in range(ahead):
            packet = self._packets[(self._origin + index) % self._capacity]
            if packet is None:
                if gap is None:
                    gap = index
            elif reference is None:
                reference = packet
            if gap is not None and reference is not None:
                break
        if gap is None:
            return None
        reference = reference or newest
        waited = (newest.timestamp - reference.timestamp) & 0xFFFFFFFF
        # A difference over half the clock's range means the newest packet is the older one.
        if waited >= 1 << 31 or waited < self.give_up_ticks:
            return None
        return gap


def skip_lost_video_packets(pc: RTCPeerConnection) -> int:
    """Give every video receiver of `pc` a gap-skipping buffer; returns how many it changed.

    Call it after the remote description is set (the receivers exist) and before media flows.
    """
    changed = 0
    for transceiver in pc.getTransceivers():
        if transceiver.kind != "video":
            continue
        receiver: RTCRtpReceiver = transceiver.receiver
        if not isinstance(getattr(receiver, _BUFFER_ATTRIBUTE, None), JitterBuffer):
            log.warning("aiortc's receiver has changed; lost video packets freeze the picture")
            continue
        setattr(receiver, _BUFFER_ATTRIBUTE, GapSkippingJitterBuffer())
        changed += 1
    return changed
