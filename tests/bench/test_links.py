"""The link harness: namespaces always removed, the impairment relay, the quality arithmetic,
and one shaped call end to end (the district's Chromium on the thin link)."""

from __future__ import annotations

import asyncio
import math
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.common import REPO
from bench.links.call import run
from bench.links.netns import leftovers, namespace
from bench.links.profiles import PROFILES
from bench.links.stats import longest_gap, quality, recovery


def test_a_namespace_is_removed_even_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), namespace() as ns:
        ns.shape(PROFILES["thin"])
        assert ns.name in leftovers()
        raise RuntimeError("a test failing inside the link")
    assert ns.name not in leftovers()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert ns.host_dev not in links


def test_the_shaped_namespace_reaches_the_host_and_an_outage_cuts_it() -> None:
    with namespace() as ns, socket.socket() as server:
        ns.shape(PROFILES["adsl"])
        server.bind((ns.outer, 0))
        server.listen()
        connect = f"import socket; socket.create_connection(('{ns.outer}', "
        connect += f"{server.getsockname()[1]}), timeout=2)"
        assert ns.exec("python3", "-c", connect, check=False).returncode == 0
        ns.outage(True)
        assert ns.exec("python3", "-c", connect, check=False).returncode != 0
        ns.outage(False)
        assert ns.exec("python3", "-c", connect, check=False).returncode == 0


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)


class _Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait(data)


@pytest.mark.parametrize("reorder", [False, True])
async def test_the_impairment_relay_keeps_order_under_jitter_unless_told_to_reorder(
    reorder: bool,
) -> None:
    loop = asyncio.get_running_loop()
    echo, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = echo.get_extra_info("sockname")
    relay = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.links.impair", "--listen", f"127.0.0.1:{port}",
        "--to", f"127.0.0.1:{target[1]}", "--rtt-ms", "40", "--jitter-ms", "15",
        *(["--reorder"] if reorder else []), cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert relay.stdout is not None
        assert await asyncio.wait_for(relay.stdout.readline(), 30) == b"ready\n"
        client, sink = await loop.create_datagram_endpoint(
            _Collect, remote_addr=("127.0.0.1", port)
        )
        for i in range(60):
            client.sendto(i.to_bytes(2, "big"))
            await asyncio.sleep(0.002)
        got = [int.from_bytes(await asyncio.wait_for(sink.got.get(), 10), "big") for _ in range(60)]
        assert sorted(got) == list(range(60))
        assert (got != list(range(60))) == reorder
        client.close()
    finally:
        relay.terminate()
        await relay.wait()
        echo.close()


def _sample(t: float, samples: int, concealed: int, frames: int) -> dict[str, Any]:
    audio = {"samples": samples, "concealed": concealed, "jbDelay": t, "jbCount": samples}
    video = {"frames": frames, "width": 640, "height": 360, "freezes": 0, "freezeTime": 0.0}
    return {"t": t, "peers": {"p": {"audio": audio, "video": video}}}


def test_quality_from_samples_finds_the_gap_and_the_recovery() -> None:
    # 48 kHz audio sampled every 0.5 s; from 2 s to 4 s everything played was concealment.
    rows = []
    samples = concealed = frames = 0
    for i in range(13):
        t = i * 0.5
        rows.append(_sample(t, samples, concealed, frames))
        samples += 24000
        if 2 <= t < 4:
            concealed += 24000
        else:
            frames += 10
    q = quality(rows, "p", 0, 6)
    assert q is not None
    assert q.longest_gap_s == pytest.approx(2.0)
    assert q.concealment == pytest.approx(4 * 24000 / (12 * 24000))
    assert q.width == 640 and q.fps == pytest.approx(8 * 10 / 6)
    audio_back, video_back = recovery(rows, "p", 4.0)
    assert audio_back == pytest.approx(0.5) and video_back == pytest.approx(0.5)
    assert longest_gap([(1.0, 0.1), (2.0, 0.2)], 0.0) == 0.0


@pytest.mark.slow
async def test_a_call_on_the_thin_link_is_measured_and_the_namespace_removed(
    tmp_path: Path,
) -> None:
    before = set(leftovers())
    result = await run(PROFILES["thin"], 2, 30, tmp_path)
    assert set(leftovers()) <= before
    assert result.cpu_busy == result.cpu_busy and result.loadavg >= 0
    assert set(result.directions) == {"province->district", "district->province"}
    for direction, q in result.directions.items():
        assert q is not None, direction
        assert q["seconds"] >= 25
        # Audio was played out (not all of it concealment), and the district stayed in the call.
        assert 0 <= q["concealment"] < 1, (direction, q)
        assert not math.isnan(q["jitter_buffer_ms"])
    assert result.outage["district_view_end"] == "call"
