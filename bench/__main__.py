"""``python -m bench`` (``make bench``): the quick set, a few minutes, figures on stdout.

Each part has its own module with options for the full set:
``bench.relay``, ``bench.call_setup``, ``bench.records_api``, ``bench.media``, ``bench.render``,
``bench.imaging``, ``bench.dashboard``
(see their ``--help``).
Benchmarks print figures and never fail the build: a part that cannot run says why.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence

from . import call_setup, dashboard, imaging, media, records_api, relay, render
from .common import say

QUICK: list[tuple[str, Callable[[Sequence[str]], int], list[str]]] = [
    ("relay, one process", relay.main, ["--participants", "200", "--duration", "3"]),
    (
        "relay, two processes over Redis",
        relay.main,
        ["--participants", "200", "--duration", "3", "--targets", "telemed", "--processes", "2"],
    ),
    ("call setup", call_setup.main, ["--calls", "5"]),
    ("server-side media peers", media.main, ["--seconds", "5", "--streams", "1"]),
    ("records", records_api.main, ["--patients", "20000", "--requests", "20", "--upload-mb", "50"]),
    ("previews of large DICOM frames", render.main, []),
    ("the study viewer on a district link", imaging.main, ["--slices", "40", "--runs", "5"]),
    (
        "activity dashboard",
        dashboard.main,
        ["--patients", "20000", "--requests", "5", "--runs", "2"],
    ),
]


def main() -> int:
    """Run every quick benchmark; report failures without failing."""
    for name, fn, argv in QUICK:
        say(f"== {name}")
        try:
            fn(argv)
        except Exception:  # a benchmark that breaks must not stop the others
            say(f"{name}: failed\n{traceback.format_exc()}")
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
