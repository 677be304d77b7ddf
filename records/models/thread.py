"""The written thread of a case file: messages and opinions before, during and after the session."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import created_field, enum_field, id_field


class ThreadKind(StrEnum):
    """What a message of the thread is."""

    message = "message"
    opinion = "opinion"  # a specialist's written opinion


class CaseMessage(SQLModel, table=True):
    """One message of a case thread, kept in the record; it never changes."""

    __tablename__ = "case_message"
    __table_args__ = (sa.Index("ix_case_message_case_at", "case_id", "created_at"),)

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="clinical_case.id")
    author_id: uuid.UUID = Field(foreign_key="app_user.id")
    kind: ThreadKind = enum_field(ThreadKind.message)
    text: str = Field(default="", sa_type=sa.Text)
    attachment_id: uuid.UUID | None = Field(default=None, foreign_key="attachment.id")
    created_at: datetime = created_field()


class ThreadPost(SQLModel):
    """Input for a new message of a case thread."""

    text: str = Field(default="", max_length=5000)
    kind: ThreadKind = ThreadKind.message


class ThreadEntryPublic(SQLModel):
    """One entry of a thread as the API shows it (a message, or a line of a session's chat)."""

    id: uuid.UUID
    anchor: str
    author_id: uuid.UUID
    author: str
    kind: str
    text: str
    attachment_id: uuid.UUID | None
    consultation_id: uuid.UUID | None
    in_session: bool
    at: datetime
