"""Jobs that misbehave on purpose, run by real render workers in the tests."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from records.render import Job, Rendered


@dataclass(frozen=True, slots=True)
class Hang(Job):
    """Never finishes (until killed)."""

    def run(self) -> Rendered:
        """Sleep for an hour."""
        time.sleep(3600)
        return Rendered(b"", "text/plain")


@dataclass(frozen=True, slots=True)
class Die(Job):
    """The worker is killed in the middle of the job, as the kernel's OOM killer would."""

    def run(self) -> Rendered:
        """SIGKILL the worker itself."""
        os.kill(os.getpid(), signal.SIGKILL)
        return Rendered(b"", "text/plain")


@dataclass(frozen=True, slots=True)
class Allocate(Job):
    """Touch ``mb`` megabytes, then answer the worker's pid and its address-space limit."""

    mb: int

    def run(self) -> Rendered:
        """Allocate and fill a buffer."""
        block = bytearray(self.mb * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])
        return Rendered(str(os.getpid()).encode(), "text/plain", {"vm_kb": _vm_kb()})


def _vm_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    return 0


@dataclass(frozen=True, slots=True)
class Visit:
    """Stay a moment in ``room`` and answer how many jobs were in it at once, this one included.

    ``tag`` only tells otherwise identical visits apart.
    """

    room: str
    tag: int

    def run(self) -> Rendered:
        """Leave a mark while inside, count the marks, leave."""
        mark = Path(self.room) / str(os.getpid())
        mark.touch()
        try:
            time.sleep(0.2)
            inside = len(list(Path(self.room).iterdir()))
        finally:
            mark.unlink()
        return Rendered(b"", "text/plain", {"inside": inside, "pid": os.getpid()})
