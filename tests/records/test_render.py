"""The render pool with real worker processes: limits, deaths, timeouts, sharing, shutdown."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from renderjobs import Allocate, Die, Hang, Visit

from records.render import Renderer, RenderFailed, RenderLimits
from records.render.pool import OUT_OF_MEMORY, TIMED_OUT, WORKER_DIED


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def pid_of(renderer: Renderer) -> int:
    done = await renderer.run(Allocate(1))
    return int(done.data)


async def test_a_job_over_the_memory_limit_ends_only_its_worker() -> None:
    async with Renderer(RenderLimits(workers=1, memory_mb=256)) as renderer:
        first = await renderer.run(Allocate(1))
        # The limit holds in the worker: its address space is capped, the server's is not.
        assert 0 < first.meta["vm_kb"] <= 256 * 1024
        with pytest.raises(RenderFailed) as err:
            await renderer.run(Allocate(512))
        assert err.value.message == OUT_OF_MEMORY
        # The next job gets a fresh worker, and this process allocates as it likes.
        second = await pid_of(renderer)
        assert second != int(first.data)
        assert len(bytearray(300 * 1024 * 1024)) > 0
        stats = renderer.stats
        assert (stats.jobs, stats.succeeded, stats.failed, stats.workers_started) == (3, 2, 1, 2)
    assert gone(int(first.data)) and gone(second)


async def test_a_worker_killed_in_the_middle_of_a_job_is_replaced() -> None:
    async with Renderer(RenderLimits(workers=1)) as renderer:
        before = await pid_of(renderer)
        with pytest.raises(RenderFailed) as err:
            await renderer.run(Die())
        assert err.value.message == WORKER_DIED and err.value.code == "render-failed"
        after = await pid_of(renderer)
        assert after != before
    assert gone(before) and gone(after)


async def test_a_job_over_time_is_killed_and_the_pool_goes_on() -> None:
    async with Renderer(RenderLimits(workers=1, timeout_seconds=1)) as renderer:
        before = await pid_of(renderer)
        with pytest.raises(RenderFailed) as err:
            await renderer.run(Hang())
        assert err.value.message == TIMED_OUT
        after = await pid_of(renderer)
        assert after != before
    assert gone(before) and gone(after)


async def test_no_more_jobs_run_at_once_than_there_are_workers(tmp_path: Path) -> None:
    room = tmp_path / "room"
    room.mkdir()
    async with Renderer(RenderLimits(workers=2)) as renderer:
        done = await asyncio.gather(*(renderer.run(Visit(str(room), n)) for n in range(6)))
        inside = [d.meta["inside"] for d in done]
        assert max(inside) <= 2 and renderer.stats.workers_started == 2
        assert len({d.meta["pid"] for d in done}) == 2


async def test_callers_of_the_same_job_share_one_run() -> None:
    async with Renderer(RenderLimits(workers=2)) as renderer:
        done = await asyncio.gather(*(renderer.run(Allocate(1)) for _ in range(5)))
        assert len({d.data for d in done}) == 1 and renderer.stats.jobs == 1


async def test_closing_stops_every_worker(tmp_path: Path) -> None:
    renderer = Renderer(RenderLimits(workers=2))
    visits = await asyncio.gather(*(renderer.run(Visit(str(tmp_path), n)) for n in (1, 2)))
    pids = {d.meta["pid"] for d in visits}
    assert len(pids) == 2
    await renderer.close()
    await renderer.close()
    assert all(gone(pid) for pid in pids)
