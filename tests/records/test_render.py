"""The render pool with real worker processes: limits, deaths, timeouts, sharing, shutdown."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from renderjobs import Allocate, Die, Hang, Visit

from records.messages import msg, nmsg
from records.render import PreviewRefused, Renderer, RenderFailed, RenderLimits
from records.render.base import message_from_json, message_to_json
from records.render.jobs import DicomPreview, too_large_message
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


async def test_a_refusal_crosses_from_the_worker_as_a_message_with_its_figures() -> None:
    ct = Path(str(get_testdata_file("CT_small.dcm")))
    async with Renderer(RenderLimits(workers=1)) as renderer:
        with pytest.raises(PreviewRefused) as err:
            await renderer.run(DicomPreview(ct, max_pixels=100))
        assert err.value.text == too_large_message(128, 128)
        assert renderer.stats.refused == 1


def test_messages_survive_json_and_junk_is_not_believed() -> None:
    said = msg("Không giải mã được ảnh DICOM (định dạng nén %(name)s)", name=msg("không rõ"))
    counted = nmsg("%(num)d hồ sơ", "%(num)d hồ sơ", 3)
    for message in (said, counted, too_large_message(20000, 20000)):
        assert message_from_json(message_to_json(message)) == message
    junk = [
        None,
        "Ảnh quá lớn",
        {"msgid": ""},
        {"msgid": "x" * 501},
        {"msgid": "Ảnh %(width)s", "params": {"height": 1}},
        {"msgid": "Ảnh %(width)s", "params": {"width": [1]}},
        {"msgid": "Ảnh %(width)s", "params": {"width": True}},
        {"msgid": "%(a)s", "params": {"a": {"msgid": "%(b)s", "params": {"b": {"msgid": "c"}}}}},
    ]
    assert [message_from_json(data) for data in junk] == [None] * len(junk)
