"""Short pauses from the cyclic garbage collector in a process that holds many sockets.

CPython's full collection walks every tracked object. Ten thousand joined sockets are close to
a million of them, and a full collection then stops the event loop for half a second or more.
Under load one comes every second or two: each relayed frame leaves its socket's read
coroutines alive until that socket's next frame, seconds later, so they age into the oldest
generation and soon make up the quarter of it that triggers the next full pass.

Freezing moves every object alive now out of the collector's view, so later collections walk
only what was created since. The price: cyclic garbage among frozen objects (a closed socket
leaves some) is not found until it is thawed. `reclaim_seconds` bounds that: once per
interval everything is thawed, collected in one pass (one long pause) and frozen again.

The youngest generation is also collected less often (every 10,000 new objects instead of
700). Under a backlog, frames wait in buffers for milliseconds; with frequent young
collections much of what they hold is caught alive and promoted to the older generations,
whose collections then grow with the backlog. Relaying frames makes no cyclic garbage, so
waiting longer frees nothing later.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GcPacing:
    """How often to freeze the survivors, and how often to collect everything once."""

    freeze_seconds: float = 10.0
    reclaim_seconds: float = 900.0
    young_threshold: int = 10_000

    def __post_init__(self) -> None:
        # Messages name the fields as the settings do, less their `gc_` prefix.
        if self.young_threshold < 1:
            raise ValueError(f"young_threshold must be positive, got {self.young_threshold}")
        if self.freeze_seconds <= 0:
            raise ValueError(f"freeze_seconds must be positive, got {self.freeze_seconds}")
        if self.reclaim_seconds < self.freeze_seconds:
            raise ValueError(
                f"reclaim_seconds must be at least the freeze interval "
                f"({self.freeze_seconds} s), got {self.reclaim_seconds}"
            )


class Pacer:
    """Freezes on every tick; thaws and collects everything when a reclaim is due."""

    def __init__(self, pacing: GcPacing, clock: Callable[[], float] = time.monotonic) -> None:
        self.pacing = pacing
        self.clock = clock
        self.last_reclaim = clock()
        self.thresholds: tuple[int, int, int] | None = None

    def start(self) -> None:
        """Collect what the start-up left behind, freeze the rest (imports, the app), pace."""
        gc.collect()
        gc.freeze()
        self.last_reclaim = self.clock()
        if self.thresholds is None:
            self.thresholds = gc.get_threshold()
            gc.set_threshold(self.pacing.young_threshold, *self.thresholds[1:])

    def tick(self) -> int | None:
        """Freeze the survivors; when a reclaim is due, first collect everything (its count)."""
        collected = None
        if self.clock() - self.last_reclaim >= self.pacing.reclaim_seconds:
            started = time.perf_counter()
            gc.unfreeze()
            collected = gc.collect()
            self.last_reclaim = self.clock()
            log.info(
                "garbage collector: full pass found %d objects in %.0f ms",
                collected,
                (time.perf_counter() - started) * 1000,
            )
        gc.freeze()
        return collected

    def stop(self) -> None:
        """Give every frozen object back to the collector, restore its thresholds; idempotent."""
        gc.unfreeze()
        if self.thresholds is not None:
            gc.set_threshold(*self.thresholds)
            self.thresholds = None


def gc_pacing(pacing: GcPacing) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry pacing the collector for the life of the application."""

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        pacer = Pacer(pacing)
        pacer.start()

        async def run() -> None:
            while True:
                await asyncio.sleep(pacing.freeze_seconds)
                pacer.tick()

        task = asyncio.create_task(run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            pacer.stop()

    return lifetime
