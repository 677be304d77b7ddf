"""The append-only, hash-chained audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import created_field, id_field


class AuditEvent(SQLModel, table=True):
    """Who did what to which object, from where, and how it ended; chained by SHA-256."""

    __tablename__ = "audit_event"

    id: uuid.UUID = id_field()
    # Position in the chain; gap-free and unique so the chain has one order.
    seq: int = Field(sa_type=sa.BigInteger, unique=True, index=True)
    at: datetime = created_field()
    actor_id: uuid.UUID | None = Field(default=None, index=True)
    actor_name: str = Field(default="", max_length=64)
    action: str = Field(max_length=40, index=True)
    object_type: str = Field(default="", max_length=40)
    object_id: str | None = Field(default=None, max_length=64)
    patient_id: uuid.UUID | None = Field(default=None, index=True)
    client_addr: str | None = Field(default=None, max_length=64)
    outcome: str = Field(default="ok", max_length=20)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditEventPublic(SQLModel):
    """An audit event as admins read it."""

    id: uuid.UUID
    seq: int
    at: datetime
    actor_id: uuid.UUID | None
    actor_name: str
    action: str
    object_type: str
    object_id: str | None
    patient_id: uuid.UUID | None
    client_addr: str | None
    outcome: str
    detail: dict[str, Any]
