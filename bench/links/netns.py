"""A participant's own network namespace, joined to the host by a veth pair and shaped.

Each direction is rate limited with ``tc tbf``; random loss and total outages are nftables
rules inside the namespace (``numgen random mod 1000 < N drop``). Every namespace created here
is removed at the end of its block and, should the process die in between, at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from .profiles import Profile

_LIVE: set[str] = set()


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def _cleanup_all() -> None:
    for name in list(_LIVE):
        _delete(name)


atexit.register(_cleanup_all)


def _delete(name: str) -> None:
    # Deleting the namespace deletes its veth end, and with it the host's end.
    _run("ip", "netns", "del", name, check=False)
    _run("ip", "link", "del", f"{name}h", check=False)
    _LIVE.discard(name)


def _free_subnet() -> int:
    used = _run("ip", "-o", "-4", "addr").stdout
    for _ in range(200):
        k = random.randint(1, 254)
        if f"10.199.{k}." not in used:
            return k
    raise RuntimeError("no free 10.199.x.0/30 subnet")


@dataclass
class Namespace:
    """A namespace `name` whose address is `inner`, reaching the host at `outer`."""

    name: str
    outer: str
    inner: str

    @property
    def host_dev(self) -> str:
        """The veth end on the host (its egress is the district's download)."""
        return f"{self.name}h"

    @property
    def inner_dev(self) -> str:
        """The veth end in the namespace (its egress is the district's upload)."""
        return f"{self.name}n"

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace."""
        return _run("ip", "netns", "exec", self.name, *args, check=check)

    def shape(self, profile: Profile) -> None:
        """Rates of both directions and random UDP loss."""
        for dev, kbit, inside in (
            (self.host_dev, profile.down_kbit, False),
            (self.inner_dev, profile.up_kbit, True),
        ):
            # A burst of at least a few full packets; the queue holds up to 400 ms of traffic.
            burst = max(4 * 1514, kbit * 1000 // 8 // 50)
            cmd = ("tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{kbit}kbit",
                   "burst", str(burst), "latency", "400ms")  # fmt: skip
            if inside:
                self.exec(*cmd)
            else:
                _run(*cmd)
        self._nft_loss(profile.loss_percent)

    def _nft_loss(self, percent: float) -> None:
        self.exec("nft", "delete", "table", "inet", "telemed_loss", check=False)
        per_mille = round(percent * 10)
        if per_mille <= 0:
            return
        rule = f"meta l4proto udp numgen random mod 1000 < {per_mille} drop"
        script = (
            "table inet telemed_loss {\n"
            f"  chain inbound {{ type filter hook input priority 0; policy accept; {rule}; }}\n"
            f"  chain outbound {{ type filter hook output priority 0; policy accept; {rule}; }}\n"
            "}\n"
        )
        self.exec("nft", "-f", "-", check=False)  # warm nft in the namespace
        subprocess.run(
            ["ip", "netns", "exec", self.name, "nft", "-f", "-"],
            input=script, text=True, check=True, capture_output=True,
        )  # fmt: skip

    def outage(self, on: bool) -> None:
        """Drop every packet on the link (on) or stop doing so."""
        self.exec("nft", "delete", "table", "inet", "telemed_outage", check=False)
        if not on:
            return
        dev = self.inner_dev
        script = (
            "table inet telemed_outage {\n"
            f'  chain inbound {{ type filter hook input priority -10; iifname "{dev}" drop; }}\n'
            f'  chain outbound {{ type filter hook output priority -10; oifname "{dev}" drop; }}\n'
            "}\n"
        )
        subprocess.run(
            ["ip", "netns", "exec", self.name, "nft", "-f", "-"],
            input=script, text=True, check=True, capture_output=True,
        )  # fmt: skip


@contextlib.contextmanager
def namespace(prefix: str = "tmrl") -> Iterator[Namespace]:
    """A fresh namespace with a veth pair to the host; always removed afterwards."""
    name = f"{prefix}{os.getpid() % 10000}{random.randint(0, 99)}"[:12]
    k = _free_subnet()
    ns = Namespace(name=name, outer=f"10.199.{k}.1", inner=f"10.199.{k}.2")
    _LIVE.add(name)
    try:
        _run("ip", "netns", "add", name)
        _run("ip", "link", "add", ns.host_dev, "type", "veth", "peer", "name", ns.inner_dev)
        _run("ip", "link", "set", ns.inner_dev, "netns", name)
        _run("ip", "addr", "add", f"{ns.outer}/30", "dev", ns.host_dev)
        _run("ip", "link", "set", ns.host_dev, "up")
        ns.exec("ip", "addr", "add", f"{ns.inner}/30", "dev", ns.inner_dev)
        ns.exec("ip", "link", "set", ns.inner_dev, "up")
        ns.exec("ip", "link", "set", "lo", "up")
        ns.exec("ip", "route", "add", "default", "via", ns.outer)
        yield ns
    finally:
        _delete(name)


def leftovers(prefix: str = "tmrl") -> list[str]:
    """Namespaces of this harness that still exist (for the tests' clean-up check)."""
    out = _run("ip", "netns", "list").stdout.split()
    return [n for n in out if n.startswith(prefix)]
