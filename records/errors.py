"""Named domain errors; the web and CLI edges translate them into statuses and messages."""

from __future__ import annotations

from collections.abc import Mapping

from .messages import Message


class RecordsError(Exception):
    """Base of every domain error: a stable machine code and a message for people.

    ``text`` is the message to translate at the edge; ``message`` its Vietnamese source text
    (for logs). ``fields`` maps a field name to its own message, for forms that show errors
    next to the input.
    """

    code = "error"

    def __init__(self, message: Message, *, fields: Mapping[str, Message] | None = None) -> None:
        super().__init__(str(message))
        self.text = message
        self.message = str(message)
        self.fields: dict[str, Message] = dict(fields or {})


class NotFound(RecordsError):
    """The object does not exist, or the actor may not know that it exists."""

    code = "not-found"


class Invalid(RecordsError):
    """The input breaks a rule; nothing was changed."""

    code = "invalid"


class Conflict(RecordsError):
    """The input clashes with the current state (duplicate, illegal transition, final minutes)."""

    code = "conflict"


class Forbidden(RecordsError):
    """The actor knows the object exists but may not do this to it."""

    code = "forbidden"


class TooLarge(Invalid):
    """An upload is over the size limit."""

    code = "too-large"


class RangeNotSatisfiable(Invalid):
    """The part of a file asked for lies outside it."""

    code = "range-not-satisfiable"

    def __init__(self, message: Message, *, size: int) -> None:
        super().__init__(message)
        self.size = size


class Unauthenticated(RecordsError):
    """No valid identity was presented (or the credentials were wrong)."""

    code = "unauthenticated"


class Throttled(RecordsError):
    """Too many attempts; try again later."""

    code = "throttled"

    def __init__(self, message: Message, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageFault(RecordsError):
    """Stored data failed its integrity check: the server's fault, not the caller's."""

    code = "storage-fault"
