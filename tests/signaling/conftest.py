"""Fixtures for signalling tests: apps built through `setup_signaling`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sighelpers import FAST, Harness, running


@pytest.fixture
async def app() -> AsyncIterator[Harness]:
    """One app on the in-process bus with short timers."""
    async with running(FAST) as harness:
        yield harness
