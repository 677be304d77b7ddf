"""Work beside the requests: one task per key, failures logged, everything cancelled at close."""

from __future__ import annotations

import asyncio

import pytest

from web.background import Background


async def test_one_task_per_key_and_close_cancels_what_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = Background()
    started = asyncio.Event()
    finished: list[str] = []

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)
        finished.append("slow")

    async def broken() -> None:
        raise RuntimeError("the disk is full")

    assert tasks.spawn("warm:a", slow())
    assert not tasks.spawn("warm:a", slow())  # already running: not started again
    assert tasks.spawn("warm:b", broken())
    await started.wait()
    await asyncio.sleep(0)
    assert "warm:b" in caplog.text and "the disk is full" in caplog.text
    # A finished key may run again.
    assert tasks.spawn("warm:b", asyncio.sleep(0))
    await tasks.close()
    await tasks.close()
    assert finished == []
    assert not tasks.spawn("warm:c", asyncio.sleep(0))  # closed: nothing new starts
