"""What the tests need of the machine, and the one definition of running in CI: what is
missing skips a test on a developer's machine and fails it in CI, where everything must run."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# The services the tests use (each test works in a schema or key prefix of its own).
PG_URL = os.environ.get(
    "TELEMED_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TELEMED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


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


def require_service(url: str, default_port: int, name: str) -> None:
    """Skip when a service is down on a developer machine; fail in CI, where it must run."""
    require(reachable(url, default_port), f"{name} is not reachable at {url}")


def schema_url(schema: str) -> str:
    """The PostgreSQL test URL restricted to one schema."""
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}search_path={schema}"
