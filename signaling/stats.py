"""Counters of this process's signalling, read by the application's metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class SignalingStats:
    """Joins, relayed signalling messages and error replies since the process started."""

    joins: int = 0
    resumes: int = 0
    relayed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
