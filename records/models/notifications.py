"""Notifications: what a person is told (in the app, and by e-mail when they want it).

A notification stores what to say as a message id and its parameters (Vietnamese source text,
translated in the reader's language where it is shown or sent) and what it is about (a
consultation or a case), never the words of a case: e-mails carry a reference and a facility.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import created_field, enum_field, id_field, time_field


class NotificationKind(StrEnum):
    """What happened, as people choose how to hear of it."""

    request = "request"  # a new request to a coordinator's facility
    scheduled = "scheduled"  # scheduled or rescheduled, to every invitee
    cancelled = "cancelled"
    invited = "invited"  # an invitation to a new invitee
    declined = "declined"  # an invitee declined, to the coordinators
    reminder = "reminder"  # 15 minutes before
    minutes = "minutes"  # the minutes were made final
    outcome = "outcome"  # the outcome of a case is overdue
    thread = "thread"  # a new message in a case thread


# Kinds that go out by e-mail too unless the person says otherwise.
EMAIL_BY_DEFAULT = frozenset(
    {
        NotificationKind.request,
        NotificationKind.scheduled,
        NotificationKind.cancelled,
        NotificationKind.invited,
        NotificationKind.declined,
        NotificationKind.reminder,
        NotificationKind.minutes,
        NotificationKind.outcome,
    }
)


class Notification(SQLModel, table=True):
    """One thing one person is told; read when they open it or mark it read."""

    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_user_unread", "user_id", "read_at", "created_at"),)

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    kind: NotificationKind = enum_field()
    # What to say: a message id (Vietnamese source) and its parameters; no clinical words.
    message: str = Field(max_length=300)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    consultation_id: uuid.UUID | None = Field(default=None, foreign_key="consultation.id")
    case_id: uuid.UUID | None = Field(default=None, foreign_key="clinical_case.id")
    # A message of a case thread the notification points at (its anchor).
    thread_message_id: uuid.UUID | None = Field(default=None)
    emergency: bool = Field(default=False)
    created_at: datetime = created_field()
    read_at: datetime | None = time_field()


class NotificationPreference(SQLModel, table=True):
    """A person's choice for one kind: in the app only, or by e-mail too."""

    __tablename__ = "notification_preference"

    user_id: uuid.UUID = Field(foreign_key="app_user.id", primary_key=True)
    kind: str = Field(max_length=20, primary_key=True)
    email: bool


class EmailOutbox(SQLModel, table=True):
    """An e-mail to send for a notification, retried with backoff until it goes out."""

    __tablename__ = "email_outbox"
    __table_args__ = (sa.Index("ix_email_outbox_due", "sent_at", "failed_at", "next_attempt_at"),)

    id: uuid.UUID = id_field()
    notification_id: uuid.UUID = Field(foreign_key="notification.id", index=True)
    to_address: str = Field(max_length=200)
    language: str = Field(default="vi", max_length=5)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = created_field()
    # A sender holds the row until then (another process may take it after).
    locked_until: datetime | None = time_field()
    lock_token: str | None = Field(default=None, max_length=40)
    sent_at: datetime | None = time_field()
    failed_at: datetime | None = time_field()
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = created_field()


class NotificationPublic(SQLModel):
    """A notification as the API shows it (its text in the caller's language)."""

    id: uuid.UUID
    kind: NotificationKind
    text: str
    url: str | None
    emergency: bool
    created_at: datetime
    read_at: datetime | None
