"""What touches media on the server: the recorder and the network-test echo (aiortc peers),
the writer of recorded files, and aiortc's jitter buffer made to skip lost video packets.

This part uses the rooms (their ports, frames, events and errors); the rooms never import it.
Only the application factory wires it in.
"""

from signaling.media.echo import EchoAnswer, EchoBusy, EchoRejected, EchoService
from signaling.media.recorder import Recorder
from signaling.media.writer import MediaWriter, Probe, UnreadableRecording, probe

__all__ = [
    "EchoAnswer",
    "EchoBusy",
    "EchoRejected",
    "EchoService",
    "MediaWriter",
    "Probe",
    "Recorder",
    "UnreadableRecording",
    "probe",
]
