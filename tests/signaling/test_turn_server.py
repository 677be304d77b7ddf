"""The TURN credentials Telemed hands out open an allocation on a real coturn
(``use-auth-secret``), over UDP and TCP; expired or forged ones are refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from bench.links.turn import Turn, coturn
from signaling import IceServers
from signaling.config import SignalingConfig
from signaling.ice import turn_credentials


@pytest.fixture(scope="module")
def turn() -> Iterator[Turn]:
    """A coturn on loopback (CI installs it; a missing server fails, never skips)."""
    with coturn() as server:
        yield server


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait(data)


async def _allocate(turn: Turn, username: str, password: str, transport: str) -> None:
    """Allocate a relay, send a datagram through it to a local socket and read it back."""
    loop = asyncio.get_running_loop()
    target, sink = await loop.create_datagram_endpoint(_Sink, local_addr=("127.0.0.1", 0))
    relay, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol,
        server_addr=(turn.host, turn.port),
        username=username,
        password=password,
        transport=transport,
    )
    try:
        relayed = relay.get_extra_info("sockname")
        assert relayed[0] == "127.0.0.1" and relayed[1] != turn.port
        relay.sendto(b"xin chao", target.get_extra_info("sockname"))
        assert await asyncio.wait_for(sink.received.get(), 10) == b"xin chao"
    finally:
        relay.close()
        target.close()


def _handed_out(turn: Turn, url: str) -> dict[str, str]:
    ice = IceServers(SignalingConfig(turn_urls=(url,), turn_secret=turn.secret))
    [server] = ice.for_user("user-42")
    assert server["urls"] == [url]
    return server


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_handed_out_credentials_relay_over_udp_and_tcp(turn: Turn, transport: str) -> None:
    url = turn.udp_url if transport == "udp" else turn.tcp_url
    server = _handed_out(turn, url)
    await _allocate(turn, server["username"], server["credential"], transport)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_expired_credentials_are_refused(turn: Turn, transport: str) -> None:
    # Minted two hours ago with a one-hour lifetime.
    username, password = turn_credentials(turn.secret, "user-42", 3600, time.time() - 7200)
    with pytest.raises(stun.TransactionFailed) as refused:
        await _allocate(turn, username, password, transport)
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401


async def test_credentials_of_another_secret_are_refused(turn: Turn) -> None:
    username, password = turn_credentials("not-" + turn.secret, "user-42", 3600, time.time())
    with pytest.raises(stun.TransactionFailed) as refused:
        await _allocate(turn, username, password, "udp")
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401
