"""What a node's rooms send out, off the path of the change that caused it: bus calls and
notifications for the other nodes, events for the application, and background tasks."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from signaling.bus import Bus
from signaling.events import RoomEvent
from signaling.ports import EventSink

log = logging.getLogger(__name__)

# Notifications sent in one round trip at most.
PUBLISH_BATCH = 256

BusCall = Callable[[], Awaitable[Any]]


class Outbox:
    """Bus calls and notifications run one at a time, in the order they were queued; events
    reach the sink in order; spawned tasks are kept until done and cancelled at close."""

    def __init__(self, bus: Bus, sink: EventSink) -> None:
        self.bus = bus
        self.sink = sink
        # Bus calls and notifications, run in order by one worker; None stops it.
        self._bus_jobs: deque[BusCall | dict[str, Any] | None] = deque()
        self._bus_wake = asyncio.Event()
        self._events: asyncio.Queue[RoomEvent | None] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start the workers."""
        self._workers = [
            asyncio.create_task(self._bus_worker()),
            asyncio.create_task(self._event_worker()),
        ]

    def to_bus(self, job: BusCall) -> None:
        """Queue a bus call."""
        self._queue_bus(job)

    def notify(self, message: dict[str, Any]) -> None:
        """Queue a notification for the other nodes."""
        self._queue_bus(message)

    def emit(self, event: RoomEvent) -> None:
        """Queue an event for the sink."""
        self._events.put_nowait(event)

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a coroutine in the background, kept until done (cancelled at close)."""

        async def run() -> None:
            try:
                await coro
            except Exception:
                log.exception("signalling task failed")

        task = asyncio.create_task(run())
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def cancel_spawned(self) -> None:
        """Cancel the background tasks and wait for them."""
        for task in list(self._spawned):
            task.cancel()
        await asyncio.gather(*self._spawned, return_exceptions=True)

    async def close(self) -> None:
        """Run what is queued, then stop the workers."""
        self._queue_bus(None)
        self._events.put_nowait(None)
        await asyncio.gather(*self._workers, return_exceptions=True)

    def _queue_bus(self, job: BusCall | dict[str, Any] | None) -> None:
        self._bus_jobs.append(job)
        self._bus_wake.set()

    async def _bus_worker(self) -> None:
        jobs = self._bus_jobs
        while True:
            if not jobs:
                self._bus_wake.clear()
                await self._bus_wake.wait()
                continue
            job = jobs.popleft()
            if job is None:
                return
            try:
                if isinstance(job, dict):
                    # Notifications queued back to back go out in one round trip, still in
                    # order with the calls around them.
                    batch = [job]
                    while jobs and isinstance(jobs[0], dict) and len(batch) < PUBLISH_BATCH:
                        batch.append(jobs.popleft())  # type: ignore[arg-type]
                    await self.bus.publish(batch)
                else:
                    await job()
            except Exception as exc:
                log.warning("signalling bus call failed: %s", exc)

    async def _event_worker(self) -> None:
        while (event := await self._events.get()) is not None:
            try:
                await self.sink.publish(event)
            except Exception:
                log.exception("event sink failed for %r", event)
