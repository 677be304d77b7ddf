"""The registry's bus worker: notifications batched, still in order with the other bus calls."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

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
