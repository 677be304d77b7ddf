"""The collector pacing of `telemed serve`: frozen survivors, a bounded wait for cyclic garbage."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from telemed.gc_pacing import GcPacing, Pacer, gc_pacing
from telemed.settings import ConfigError, Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Node:
    """An object that can sit in a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_frozen_cycles_wait_for_the_reclaim(thawed: None) -> None:
    clock = Clock()
    pacer = Pacer(GcPacing(freeze_seconds=10, reclaim_seconds=60), clock=clock)
    before = gc.get_threshold()
    pacer.start()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (10_000, *before[1:])
    garbage = _cycle()
    assert pacer.tick() is None  # not due: the new cycle is frozen with the rest
    gc.collect()
    assert garbage() is not None, "a frozen cycle must be out of the collector's view"
    clock.now += 61
    collected = pacer.tick()
    assert collected is not None and collected >= 2
    assert garbage() is None
    assert gc.get_freeze_count() > 0  # frozen again after the full pass
    assert pacer.tick() is None  # the next reclaim is a whole interval away
    pacer.stop()
    pacer.stop()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_unfrozen_cycles_are_collected_as_usual(thawed: None) -> None:
    pacer = Pacer(GcPacing(freeze_seconds=10, reclaim_seconds=60), clock=Clock())
    pacer.start()
    garbage = _cycle()  # made after the freeze: still young
    gc.collect()
    assert garbage() is None
    pacer.stop()


@pytest.mark.parametrize(
    ("freeze", "reclaim", "young"),
    [(0, 60, 10), (-1, 60, 10), (30, 10, 10), (10, 60, 0)],
    ids=["zero", "negative", "reclaim<freeze", "young=0"],
)
def test_pacing_is_validated(freeze: float, reclaim: float, young: int) -> None:
    with pytest.raises(ValueError):
        GcPacing(freeze_seconds=freeze, reclaim_seconds=reclaim, young_threshold=young)


def test_settings_are_validated() -> None:
    assert Settings(gc_freeze_seconds=0).gc_freeze_seconds == 0  # off
    with pytest.raises(ConfigError, match="gc_freeze_seconds"):
        Settings(gc_freeze_seconds=-5)
    with pytest.raises(ConfigError, match="gc_reclaim_seconds"):
        Settings(gc_freeze_seconds=60, gc_reclaim_seconds=30)
    with pytest.raises(ConfigError, match="gc_young_threshold"):
        Settings(gc_young_threshold=0)


async def test_the_application_lifetime_freezes_and_thaws(thawed: None) -> None:
    app = web.Application()
    app.cleanup_ctx.append(gc_pacing(GcPacing(freeze_seconds=0.05, reclaim_seconds=60)))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        assert gc.get_freeze_count() > 0
    finally:
        await client.close()
    assert gc.get_freeze_count() == 0
