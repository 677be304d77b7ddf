"""What the server-side media peers leave in the record: network test results and
recording consent decisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from .base import created_field, enum_field, id_field, time_field


class NetworkVerdict(StrEnum):
    """What a clinic's link is good for, from a network test."""

    video = "video"  # good for video
    reduced = "reduced"  # video at reduced quality (low-bandwidth mode)
    audio = "audio"  # audio only
    failed = "failed"  # could not connect


class NetworkTestBase(SQLModel):
    """The figures a browser measured against the echo peer."""

    rtt_ms: float | None = Field(default=None, ge=0, le=60_000)
    jitter_ms: float | None = Field(default=None, ge=0, le=60_000)
    loss_pct: float | None = Field(default=None, ge=0, le=100)
    bitrate_kbps: float | None = Field(default=None, ge=0, le=1_000_000)
    fps: float | None = Field(default=None, ge=0, le=240)
    verdict: NetworkVerdict


class NetworkTestCreate(NetworkTestBase):
    """A result as the browser sends it (the server re-derives the verdict when it can)."""

    user_agent: str = Field(default="", max_length=300)


class NetworkTestResult(NetworkTestBase, table=True):
    """One network test by one user."""

    __tablename__ = "network_test_result"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    measured_at: datetime = created_field()
    verdict: NetworkVerdict = enum_field()
    user_agent: str = Field(default="", max_length=300)


class NetworkTestPublic(NetworkTestBase):
    """A stored result as the API shows it."""

    id: uuid.UUID
    user_id: uuid.UUID
    measured_at: datetime


class RecordingConsent(SQLModel, table=True):
    """A participant's answer to "may this session be recorded?"."""

    __tablename__ = "recording_consent"

    id: uuid.UUID = id_field()
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", index=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    accept: bool
    at: datetime = time_field(nullable=False)
