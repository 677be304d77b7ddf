"""What happened in the records, told to whoever listens once it is committed.

Services announce a domain event after their commit (``await announce(session, event)``); the
application wires listeners when it builds the session factory (``records.db.session_maker``
with an ``EventHub``): the notifications, and the live rooms that must obey the records. A
listener that fails is logged and never undoes or fails the change that caused the event.
Sessions without a hub (scripts, most tests) announce to nobody.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from .models.base import utcnow

log = logging.getLogger(__name__)

HUB_KEY = "telemed.events"


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    """Something committed; ``actor_id`` is who did it (None for the system)."""

    actor_id: uuid.UUID | None = None
    at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsultationRequested(DomainEvent):
    """A doctor asked a facility up the line for a consultation."""

    consultation_id: uuid.UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsultationScheduled(DomainEvent):
    """A consultation got (or changed) its time; ``new_invitees`` were not invited before."""

    consultation_id: uuid.UUID
    rescheduled: bool
    new_invitees: tuple[uuid.UUID, ...] = ()
    # The room the new invitees may now enter (a withdrawn invitation's bar is lifted).
    room_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsultationCancelled(DomainEvent):
    """A consultation was called off; its live room must end."""

    consultation_id: uuid.UUID
    room_id: str
    # Who was invited when it was cancelled (they are told).
    invitees: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsultationReopened(DomainEvent):
    """A session ended by mistake was reopened; its room accepts people again."""

    consultation_id: uuid.UUID
    room_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Invited(DomainEvent):
    """Someone was invited to a consultation after it was scheduled."""

    consultation_id: uuid.UUID
    user_id: uuid.UUID
    room_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitationWithdrawn(DomainEvent):
    """An invitation was withdrawn; the person must leave the live room."""

    consultation_id: uuid.UUID
    room_id: str
    user_id: uuid.UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitationAnswered(DomainEvent):
    """An invitee accepted or declined."""

    consultation_id: uuid.UUID
    user_id: uuid.UUID
    accepted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class UserDisabled(DomainEvent):
    """An admin disabled an account; the person must leave every room."""

    user_id: uuid.UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class MinutesFinalised(DomainEvent):
    """The minutes of a case in a consultation were made final."""

    consultation_id: uuid.UUID
    case_id: uuid.UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeOverdue(DomainEvent):
    """The outcome of a discussed case was not recorded in time."""

    case_id: uuid.UUID
    consultation_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadPosted(DomainEvent):
    """A message was posted to a case thread."""

    case_id: uuid.UUID
    message_id: uuid.UUID


Listener = Callable[[DomainEvent], Awaitable[None]]


class EventHub:
    """The listeners of one application; events reach them in the order of registration."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` with every event announced from now on."""
        self._listeners.append(listener)

    async def dispatch(self, event: DomainEvent) -> None:
        """Hand an event to every listener; a failing listener is logged, never raised."""
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:
                log.exception("listener %r failed for %r", listener, event)


async def announce(session: AsyncSession, *events: DomainEvent) -> None:
    """Tell the session's hub (if any) about committed events; call after the commit."""
    hub = session.info.get(HUB_KEY)
    if isinstance(hub, EventHub):
        for event in events:
            await hub.dispatch(event)
