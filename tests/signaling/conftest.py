"""Fixtures for signalling tests: apps built through `setup_signaling`."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
from sighelpers import FAST, Harness, running


@pytest.fixture
async def app() -> AsyncIterator[Harness]:
    """One app on the in-process bus with short timers."""
    async with running(FAST) as harness:
        yield harness


@pytest.fixture
def sig_redis_url() -> str:
    """Redis for the multi-process tests: skip when down, fail in CI."""
    url = os.environ.get("TELEMED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return url
    except OSError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis is not reachable at {url}; CI must run these tests")
        pytest.skip(f"Redis is not reachable at {url}")
