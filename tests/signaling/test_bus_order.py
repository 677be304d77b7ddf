"""The registry's bus worker: notifications batched, still in order with the other bus calls."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from doubles import MemoryEventSink

from signaling import SignalingConfig
from signaling.bus import LocalBus
from signaling.registry import PUBLISH_BATCH, RoomRegistry


class RecordingBus(LocalBus):
    """A local bus that notes every publish and call in the order the worker makes them."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Any] = []

    async def publish(self, messages: Sequence[dict[str, Any]]) -> None:
        self.calls.append([m["op"] for m in messages])
        await super().publish(messages)


async def test_notifications_go_out_in_batches_and_in_order() -> None:
    bus = RecordingBus()
    registry = RoomRegistry(config=SignalingConfig(), bus=bus, sink=MemoryEventSink())
    await registry.start()
    try:
        registry.publish("r", "a")
        registry.publish("r", "b")

        async def call() -> None:
            bus.calls.append("call")

        registry.to_bus(call)
        registry.publish("r", "c")
        for _ in range(PUBLISH_BATCH + 1):
            registry.publish("r", "x")
        for _ in range(50):
            await asyncio.sleep(0)
        assert bus.calls[:3] == [["a", "b"], "call", ["c"] + ["x"] * (PUBLISH_BATCH - 1)]
        assert bus.calls[3:] == [["x", "x"]]
    finally:
        await registry.close()
