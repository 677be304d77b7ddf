"""Work the server does beside the requests (warming caches): one task per key at a time,
logged when it fails, cancelled when the application stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    """Tasks running beside the requests, by key: a key already running is not started again."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self.closed = False

    def spawn(self, key: str, work: Coroutine[Any, Any, Any]) -> bool:
        """Start the work unless work of this key runs; whether it was started."""
        if self.closed or key in self._tasks:
            work.close()
            return False
        task = asyncio.get_running_loop().create_task(work, name=f"background {key}")
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        return True

    def _finished(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            log.warning("background work %s failed: %r", key, task.exception())

    async def idle(self) -> None:
        """Wait until nothing runs (tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        """Cancel what runs and wait for it; idempotent."""
        self.closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
