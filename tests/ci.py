"""What the tests need of the machine, and the one definition of running in CI: what is
missing skips a test on a developer's machine and fails it in CI, where everything must run."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available: bool, missing: str) -> None:
    """Skip the test when something is `missing` here; fail it in CI."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{missing}; CI must run these tests")
    pytest.skip(missing)


def reachable(url: str, default_port: int) -> bool:
    """Whether something listens at the host and port of `url`."""
    parsed = urlparse(url.replace("+asyncpg", ""))
    try:
        address = (parsed.hostname or "127.0.0.1", parsed.port or default_port)
        with socket.create_connection(address, 1):
            return True
    except OSError:
        return False


def host_address() -> str | None:
    """A non-loopback IPv4 address of this machine (aioice skips 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # TEST-NET: nothing is sent
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address
