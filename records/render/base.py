"""What every render job is: picklable work for a worker, answered with a ``Rendered``.

Kept apart from the jobs themselves, which import the decoders: the server imports this
package at start, the decoders are loaded by the fork server (see ``pool``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREVIEW_SIZE = 1024
DEFAULT_MAX_PIXELS = 50_000_000


@dataclass(frozen=True, slots=True)
class Rendered:
    """What a job made: the bytes, their media type, and facts about them."""

    data: bytes
    media_type: str
    meta: Mapping[str, Any] = field(default_factory=dict)


class Job(ABC):
    """Work for a render worker: pickled to it, run there, answered with a ``Rendered``."""

    __slots__ = ()

    @abstractmethod
    def run(self) -> Rendered:
        """Do the work, in the worker process; raise ``Invalid`` to refuse the file."""
