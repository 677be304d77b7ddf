"""A userspace UDP impairment relay: delay, jitter and reordering on the media path.

This kernel has no netem, so delay cannot come from ``tc``. The relay listens where the
namespaced browser's TURN server is expected, forwards every datagram to the real coturn and
back, and holds each one for half the round trip plus a random jitter; without reordering a
datagram never overtakes the one before it in its direction.

``python -m bench.links.impair --listen 10.199.3.1:3478 --to 127.0.0.1:41234 --rtt-ms 300
--jitter-ms 30 [--reorder]`` runs until terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
from collections.abc import Sequence
from typing import cast

Addr = tuple[str, int]


class Delay:
    """Per-direction delay: half the round trip, plus jitter, FIFO unless reordering."""

    def __init__(self, rtt_ms: float, jitter_ms: float, reorder: bool, rng: random.Random):
        self.base = rtt_ms / 2000
        self.jitter = jitter_ms / 1000
        self.reorder = reorder
        self.rng = rng
        self.last = 0.0

    def due(self, now: float) -> float:
        """The loop time at which a datagram arriving now leaves."""
        extra = self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        at = now + max(0.0, self.base + extra)
        if not self.reorder:
            # Strictly later: the loop's timer heap does not keep equal deadlines in order.
            at = max(at, self.last + 1e-6)
        self.last = at
        return at


class Upstream(asyncio.DatagramProtocol):
    """The relay's socket towards coturn for one client address."""

    def __init__(self, relay: Relay, client: Addr) -> None:
        self.relay = relay
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.relay.to_client(data, self.client)


class Relay(asyncio.DatagramProtocol):
    """Listens for the browser; one upstream socket per client address."""

    def __init__(self, target: Addr, rtt_ms: float, jitter_ms: float, reorder: bool) -> None:
        rng = random.Random(19)
        self.target = target
        self.up = Delay(rtt_ms, jitter_ms, reorder, rng)
        self.down = Delay(rtt_ms, jitter_ms, reorder, rng)
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.DatagramTransport | None = None
        self.upstreams: dict[Addr, Upstream] = {}
        self.pending: dict[Addr, list[bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        at = self.up.due(self.loop.time())
        self.loop.call_at(at, self._forward, data, addr)

    def _forward(self, data: bytes, client: Addr) -> None:
        upstream = self.upstreams.get(client)
        if upstream is None:
            if client in self.pending:
                self.pending[client].append(data)
                return
            self.pending[client] = [data]
            self.loop.create_task(self._open(client))
            return
        if upstream.transport is not None:
            upstream.transport.sendto(data, self.target)

    async def _open(self, client: Addr) -> None:
        _, upstream = await self.loop.create_datagram_endpoint(
            lambda: Upstream(self, client), local_addr=("127.0.0.1", 0)
        )
        self.upstreams[client] = upstream
        for data in self.pending.pop(client, []):
            assert upstream.transport is not None
            upstream.transport.sendto(data, self.target)

    def to_client(self, data: bytes, client: Addr) -> None:
        """A datagram from coturn back to the browser, delayed."""
        at = self.down.due(self.loop.time())
        self.loop.call_at(at, self._back, data, client)

    def _back(self, data: bytes, client: Addr) -> None:
        if self.transport is not None:
            self.transport.sendto(data, client)


def _addr(text: str) -> Addr:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def serve(listen: Addr, target: Addr, rtt_ms: float, jitter_ms: float, reorder: bool) -> None:
    """Relay until SIGTERM."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Relay(target, rtt_ms, jitter_ms, reorder), local_addr=listen
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    transport.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("--rtt-ms", type=float, default=0)
    parser.add_argument("--jitter-ms", type=float, default=0)
    parser.add_argument("--reorder", action="store_true")
    args = parser.parse_args(argv)
    asyncio.run(
        serve(_addr(args.listen), _addr(args.to), args.rtt_ms, args.jitter_ms, args.reorder)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
