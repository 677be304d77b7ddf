"""A real Janus for the tests: a private configuration in a temporary folder (VideoRoom only,
WebSocket transport on a loopback port, API secret and admin key, a small RTP port range) and
the `janus` process, stopped whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ci import require

from signaling.media.janus import JanusConnection, JanusUnavailable

JANUS = "/usr/bin/janus"
KEEP = "libjanus_videoroom.so", "libjanus_websockets.so"


@dataclass(frozen=True)
class JanusServer:
    """A running Janus: where to reach it and the secrets it wants."""

    url: str
    api_secret: str
    admin_key: str
    folder: Path
    pid: int


def janus_available() -> bool:
    """Whether Janus and its plugins are installed here."""
    return shutil.which(JANUS) is not None and _lib_folder() is not None


def _lib_folder() -> Path | None:
    for candidate in sorted(Path("/usr/lib").glob("*/janus")) + [Path("/usr/lib/janus")]:
        if (candidate / "plugins" / "libjanus_videoroom.so").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _disable(folder: Path) -> str:
    """Every library in `folder` except the ones Telemed uses."""
    names = {p.name.split(".so")[0] + ".so" for p in folder.glob("libjanus_*.so*")}
    return ",".join(sorted(n for n in names if n not in KEEP))


def write_config(folder: Path, *, port: int, api_secret: str, admin_key: str) -> Path:
    """Write janus.jcfg and the plugin and transport configurations into `folder`."""
    lib = _lib_folder()
    assert lib is not None
    # Ports of their own per server, so parallel test runs on one machine do not collide.
    low = random.randrange(20000, 59000, 200)
    (folder / "janus.jcfg").write_text(
        f"""general: {{
  configs_folder = "{folder}"
  plugins_folder = "{lib / "plugins"}"
  transports_folder = "{lib / "transports"}"
  events_folder = "{lib / "events"}"
  loggers_folder = "{lib / "loggers"}"
  log_to_stdout = true
  debug_level = 4
  api_secret = "{api_secret}"
  server_name = "telemed-test"
  session_timeout = 60
  protected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr"]
}}
media: {{
  rtp_port_range = "{low}-{low + 199}"
}}
nat: {{
  ignore_mdns = true
}}
plugins: {{ disable = "{_disable(lib / "plugins")}" }}
transports: {{ disable = "{_disable(lib / "transports")}" }}
loggers: {{ disable = "{_disable(lib / "loggers")}" }}
events: {{ broadcast = false }}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text(
        f"""general: {{
  admin_key = "{admin_key}"
  lock_rtp_forward = true
  string_ids = true
}}
"""
    )
    (folder / "janus.transport.websockets.jcfg").write_text(
        f"""general: {{
  json = "compact"
  ws = true
  ws_port = {port}
  ws_ip = "127.0.0.1"
  wss = false
}}
admin: {{
  admin_ws = false
  admin_wss = false
}}
"""
    )
    return folder / "janus.jcfg"


async def _ready(url: str, api_secret: str, process: asyncio.subprocess.Process) -> None:
    for _ in range(100):
        if process.returncode is not None:
            raise RuntimeError(f"janus exited with {process.returncode}")
        connection = JanusConnection(url, api_secret=api_secret, timeout=2.0)
        try:
            await connection.connect()
            await connection.info()
            return
        except JanusUnavailable:
            await asyncio.sleep(0.1)
        finally:
            await connection.close()
    raise RuntimeError("janus did not start listening")


@contextlib.asynccontextmanager
async def running_janus(folder: Path) -> AsyncIterator[JanusServer]:
    """Start Janus with a fresh configuration in `folder`; stop it on the way out."""
    require(janus_available(), "Janus (Debian packages janus, janus-tools) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    api_secret, admin_key = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    config = write_config(folder, port=port, api_secret=api_secret, admin_key=admin_key)
    log = (folder / "janus.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        JANUS,
        "-C",
        str(config),
        "-F",
        str(folder),
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,
        # A core dump, if Janus crashes on the way out, lands in the temporary folder.
        cwd=folder,
    )
    url = f"ws://127.0.0.1:{port}/"
    try:
        await _ready(url, api_secret, process)
        yield JanusServer(url, api_secret, admin_key, folder, process.pid)
    finally:
        await stop(process)
        log.close()


async def stop(process: asyncio.subprocess.Process) -> None:
    """Stop Janus: SIGTERM, then SIGKILL if it lingers."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            await process.wait()
