"""What every render job is: picklable work for a worker, answered with a ``Rendered``.

Kept apart from the jobs themselves, which import the decoders: the server imports this
package at start, the decoders are loaded by the fork server (see ``pool``). A job that refuses
a file says why with a records ``Message``; it crosses from the worker (and into the cache of
failures) as JSON, ``message_to_json`` and ``message_from_json``, and is translated at the edge.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..messages import Message

PREVIEW_SIZE = 1024
DEFAULT_MAX_PIXELS = 50_000_000
# Bounds on a message read back from a worker, which a crafted file may have subverted.
MAX_MESSAGE = 500
_MAX_PARAMS = 8
_MAX_DEPTH = 1


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


def message_to_json(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data: its id, its parameters (messages among them), its count."""
    params = {
        key: message_to_json(value) if isinstance(value, Message) else value
        for key, value in message.params.items()
    }
    out: dict[str, Any] = {"msgid": message.msgid, "params": params}
    if message.plural is not None:
        out["plural"], out["n"] = message.plural, message.n
    return out


def _param(value: Any, depth: int) -> object:
    if isinstance(value, dict):
        return _message(value, depth + 1)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("parameter of an unknown type")
    if isinstance(value, str) and len(value) > MAX_MESSAGE:
        raise ValueError("parameter too long")
    return value


def _message(data: Any, depth: int) -> Message:
    if depth > _MAX_DEPTH or not isinstance(data, dict):
        raise ValueError("not a message")
    msgid, params = data.get("msgid"), data.get("params", {})
    plural, n = data.get("plural"), data.get("n", 0)
    if not isinstance(msgid, str) or not 0 < len(msgid) <= MAX_MESSAGE:
        raise ValueError("message id")
    if not isinstance(params, dict) or len(params) > _MAX_PARAMS:
        raise ValueError("parameters")
    if plural is not None and not (isinstance(plural, str) and len(plural) <= MAX_MESSAGE):
        raise ValueError("plural id")
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError("count")
    values = {str(key): _param(value, depth) for key, value in params.items()}
    return Message(msgid, values, plural=plural, n=n)


def message_from_json(data: Any) -> Message | None:
    """The message ``message_to_json`` made, or None for anything that is not one.

    A message that cannot be filled in (a placeholder without its value) is not one either:
    it would fail where it is shown.
    """
    try:
        message = _message(data, 0)
        message.render()
    except (ValueError, KeyError, TypeError):
        return None
    return message
