"""Shared helpers: statistics, /proc readings, free ports, subprocess servers, tables."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc/PID/statm."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


@dataclass(frozen=True, slots=True)
class Spread:
    """Median of several runs with their minimum and maximum."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Summarise run results (NaN when there are none)."""
        clean = [v for v in values if v == v]
        if not clean:
            nan = float("nan")
            return cls(nan, nan, nan)
        return cls(statistics.median(clean), min(clean), max(clean))

    def fmt(self, digits: int = 0) -> str:
        """`median (low–high)`."""
        if self.median != self.median:
            return "–"
        return f"{self.median:,.{digits}f} ({self.low:,.{digits}f}–{self.high:,.{digits}f})"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, aligned for the terminal too."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> str:
    """One paragraph on where the figures come from."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for mod in ("aiohttp", "sqlalchemy", "aiosqlite", "asyncpg", "aiortc", "uvloop", "orjson"):
        with contextlib.suppress(Exception):
            versions.append(f"{mod} {__import__(mod).__version__}")
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {cpu}, {os.cpu_count()} cores; "
        f"Linux {platform.release()}; Python {platform.python_version()}; " + ", ".join(versions)
    )


def python_env(**extra: str) -> dict[str, str]:
    """The environment for a server subprocess: no inherited TELEMED_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEMED_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Server:
    """A server subprocess on a loopback port, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, argv: Sequence[str], port: int, env: dict[str, str], ready_path: str):
        self.argv = list(argv)
        self.port = port
        self.env = env
        self.ready_path = ready_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: Any = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 60.0) -> None:
        """Start it and wait until `ready_path` answers over HTTP."""
        # A file, not a pipe: a server that logs a lot must never block on a full pipe.
        self.log = tempfile.NamedTemporaryFile(prefix="telemed-bench-server-", suffix=".log")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=self.log
        )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited early: {self.log_tail()}")
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}{self.ready_path}") as r:
                        await r.read()
                        return
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
        raise RuntimeError("server did not start in time")

    def log_tail(self, size: int = 2000) -> str:
        """The end of what the server wrote to stderr."""
        if self.log is None:
            return ""
        self.log.flush()
        return Path(self.log.name).read_bytes()[-size:].decode(errors="replace")

    def stop(self) -> None:
        """Terminate it, wait, and keep its stderr when BENCH_SERVER_LOGS names a directory."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self.log is not None:
            keep = os.environ.get("BENCH_SERVER_LOGS")
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(self.log.name, Path(keep) / f"{self.port}.log")
            self.log.close()
            self.log = None


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence library chatter on stdout while setting up."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield


def say(*parts: object) -> None:
    """Progress on stderr, so stdout holds only the figures."""
    print(*parts, file=sys.stderr, flush=True)
