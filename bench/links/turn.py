"""A coturn server (Debian's ``turnserver``) with ``use-auth-secret``, for tests and the link
matrix: TURN over UDP and TCP on one listening port, relays on a port range of its own."""

from __future__ import annotations

import contextlib
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TURNSERVER = "turnserver"


class TurnUnavailable(RuntimeError):
    """coturn is not installed or did not start."""


@dataclass(frozen=True, slots=True)
class Turn:
    """A running coturn: where it listens and the shared secret of its REST credentials."""

    host: str
    port: int
    secret: str
    realm: str
    log: Path

    @property
    def udp_url(self) -> str:
        """TURN over UDP."""
        return f"turn:{self.host}:{self.port}?transport=udp"

    @property
    def tcp_url(self) -> str:
        """TURN over TCP (clinics whose firewall only lets TCP out)."""
        return f"turn:{self.host}:{self.port}?transport=tcp"


def _free_udp_tcp_port(host: str) -> int:
    """A port free for both UDP and TCP on `host`."""
    for _ in range(50):
        with socket.socket() as t:
            t.bind((host, 0))
            port = int(t.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((host, port))
                except OSError:
                    continue
                return port
    raise TurnUnavailable("no free port for coturn")


def _wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TurnUnavailable(f"turnserver exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TurnUnavailable("turnserver did not listen within 15 s")


@contextlib.contextmanager
def coturn(
    host: str = "127.0.0.1", *, relay_ip: str | None = None, external: str | None = None
) -> Iterator[Turn]:
    """Run coturn on `host` until the block ends; relays on `relay_ip` (default `host`)."""
    binary = shutil.which(TURNSERVER) or (
        "/usr/bin/turnserver" if Path("/usr/bin/turnserver").exists() else None
    )
    if binary is None:
        raise TurnUnavailable("turnserver not found: install Debian's coturn package")
    secret = secrets.token_hex(16)
    port = _free_udp_tcp_port(host)
    # A relay port range of its own, so parallel runs rarely meet.
    low = random.randrange(20000, 60000, 200)
    workdir = Path(tempfile.mkdtemp(prefix="telemed-turn-"))
    log = workdir / "turn.log"
    args = [
        binary,
        "-n",  # no configuration file
        "--listening-ip", host,
        "--listening-port", str(port),
        "--relay-ip", relay_ip or host,
        "--min-port", str(low),
        "--max-port", str(low + 199),
        "--use-auth-secret",
        "--static-auth-secret", secret,
        "--realm", "telemed.test",
        "--fingerprint",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--allow-loopback-peers",
        "--no-multicast-peers",
        "--log-file", str(log),
        "--simple-log",
        "--no-stdout-log",
        "--pidfile", str(workdir / "turn.pid"),
        "--userdb", str(workdir / "turn.db"),
    ]  # fmt: skip
    if external:
        args += ["--external-ip", external]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_listening(host, port, proc, log)
        yield Turn(host=host, port=port, secret=secret, realm="telemed.test", log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
