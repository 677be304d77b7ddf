"""The registry's bus worker: notifications batched, still in order with the other bus calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from doubles import MemoryEventSink

from signaling import SignalingConfig
from signaling.bus import LocalBus
from signaling.ops import Relay
from signaling.outbox import PUBLISH_BATCH
from signaling.registry import RoomRegistry


class RecordingBus(LocalBus):
    """A local bus that notes every publish and call in the order the worker makes them."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Any] = []

    async def publish(self, messages: Sequence[dict[str, Any]]) -> None:
        self.calls.append([m["to"] for m in messages])
        await super().publish(messages)


async def test_notifications_go_out_in_batches_and_in_order() -> None:
    bus = RecordingBus()
    registry = RoomRegistry(config=SignalingConfig(), bus=bus, sink=MemoryEventSink())
    await registry.start()
    try:
        registry.publish("r", Relay(to="a", frame={}))
        registry.publish("r", Relay(to="b", frame={}))

        async def call() -> None:
            bus.calls.append("call")

        registry.to_bus(call)
        registry.publish("r", Relay(to="c", frame={}))
        for _ in range(PUBLISH_BATCH + 1):
            registry.publish("r", Relay(to="x", frame={}))
        for _ in range(50):
            await asyncio.sleep(0)
        assert bus.calls[:3] == [["a", "b"], "call", ["c"] + ["x"] * (PUBLISH_BATCH - 1)]
        assert bus.calls[3:] == [["x", "x"]]
    finally:
        await registry.close()


class FlakyBus(LocalBus):
    """A local bus whose heartbeat fails while `down` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.beats = 0

    async def heartbeat(self, ttl: float) -> None:
        self.beats += 1
        if self.down:
            raise ConnectionError("bus unreachable")


async def test_failed_heartbeats_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    bus = FlakyBus()
    config = SignalingConfig(bus_heartbeat_seconds=0.01)
    registry = RoomRegistry(config=config, bus=bus, sink=MemoryEventSink())
    caplog.set_level(logging.DEBUG, logger="signaling.registry")
    await registry.start()
    try:
        async def beats(count: int) -> None:
            while bus.beats < count:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(beats(3), 10)
        failed = [r for r in caplog.records if "heartbeat failed" in r.getMessage()]
        assert "bus unreachable" in failed[0].getMessage()
        assert [r.levelno for r in failed[:3]] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
        bus.down = False
        await asyncio.wait_for(beats(bus.beats + 2), 10)
        assert any("works again" in r.getMessage() for r in caplog.records)
    finally:
        await registry.close()
