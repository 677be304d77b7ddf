"""Consultations (phiên hội chẩn), who takes part, what happened in the room, and the minutes."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import model_validator
from sqlmodel import Field, SQLModel

from .base import created_field, enum_field, id_field, time_field
from .enums import ConsultationStatus, InvitationResponse, MinutesStatus, ParticipantRole


def new_room_id() -> str:
    """An opaque room id of 192 random bits."""
    return secrets.token_urlsafe(24)


class ConsultationRequest(SQLModel):
    """A doctor's request for a consultation on one or more cases."""

    title: str = Field(min_length=3, max_length=200)
    case_ids: list[uuid.UUID] = Field(min_length=1, max_length=10)
    host_facility_id: uuid.UUID
    note: str = Field(default="", max_length=5000)
    preferred_start: datetime | None = None


class ConsultationSchedule(SQLModel):
    """The coordinator's decision: when, who chairs, who is invited."""

    scheduled_start: datetime
    scheduled_end: datetime
    chair_id: uuid.UUID
    requires_admission: bool = True
    invitees: list[uuid.UUID] = Field(default_factory=list, max_length=30)

    @model_validator(mode="after")
    def _times(self) -> ConsultationSchedule:
        if self.scheduled_start.tzinfo is None or self.scheduled_end.tzinfo is None:
            raise ValueError("times must carry a timezone")
        if self.scheduled_end <= self.scheduled_start:
            raise ValueError("the session must end after it starts")
        if (self.scheduled_end - self.scheduled_start).total_seconds() > 12 * 3600:
            raise ValueError("a session lasts at most 12 hours")
        return self


class Consultation(SQLModel, table=True):
    """A case conference between a requesting facility and a host facility."""

    __tablename__ = "consultation"
    # The activity figures read requests by facility and month.
    __table_args__ = (
        sa.Index("ix_consultation_requesting_created", "requesting_facility_id", "created_at"),
        sa.Index("ix_consultation_created", "created_at"),
    )

    id: uuid.UUID = id_field()
    title: str = Field(max_length=200)
    note: str = Field(default="", sa_type=sa.Text)
    requesting_facility_id: uuid.UUID = Field(foreign_key="facility.id", index=True)
    host_facility_id: uuid.UUID = Field(foreign_key="facility.id", index=True)
    requested_by: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    preferred_start: datetime | None = time_field()
    scheduled_start: datetime | None = time_field(index=True)
    scheduled_end: datetime | None = time_field()
    chair_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    status: ConsultationStatus = enum_field(ConsultationStatus.requested, index=True)
    requires_admission: bool = Field(default=True)
    room_id: str = Field(default_factory=new_room_id, max_length=64, unique=True, index=True)
    started_at: datetime | None = time_field()
    ended_at: datetime | None = time_field()
    # When the reminder before the start went out (one process sends it, once per time).
    reminded_at: datetime | None = time_field()
    # When a time was first set: how long the request waited for the coordinator.
    scheduled_at: datetime | None = time_field()
    created_at: datetime = created_field()
    updated_at: datetime | None = time_field()


class ConsultationCase(SQLModel, table=True):
    """Which cases a consultation discusses."""

    __tablename__ = "consultation_case"

    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="clinical_case.id", primary_key=True, index=True)


class ConsultationPublic(SQLModel):
    """A consultation as the API shows it."""

    id: uuid.UUID
    title: str
    note: str
    requesting_facility_id: uuid.UUID
    host_facility_id: uuid.UUID
    requested_by: uuid.UUID | None
    preferred_start: datetime | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    chair_id: uuid.UUID | None
    status: ConsultationStatus
    requires_admission: bool
    case_ids: list[uuid.UUID] = Field(default_factory=list)
    participants: list[ParticipantPublic] = Field(default_factory=list)
    created_at: datetime


class Participant(SQLModel, table=True):
    """A person invited to a consultation, with their part in it."""

    __tablename__ = "participant"
    __table_args__ = (
        sa.UniqueConstraint("consultation_id", "user_id", name="uq_participant_user"),
    )

    id: uuid.UUID = id_field()
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", index=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    role: ParticipantRole = enum_field(ParticipantRole.specialist)
    invited_by: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    invited_at: datetime = created_field()
    # The invitee's answer to this time; a new time asks again.
    response: InvitationResponse = enum_field(InvitationResponse.pending)
    response_reason: str = Field(default="", max_length=500)
    responded_at: datetime | None = time_field()


class ParticipantPublic(SQLModel):
    """A participant as the API shows it."""

    user_id: uuid.UUID
    role: ParticipantRole
    invited_at: datetime
    response: InvitationResponse = InvitationResponse.pending
    response_reason: str = ""
    responded_at: datetime | None = None


class InvitationAnswer(SQLModel):
    """An invitee accepts or declines (with a reason)."""

    accept: bool
    reason: str = Field(default="", max_length=500)


class Attendance(SQLModel, table=True):
    """One interval during which a user was in the room (from signalling)."""

    __tablename__ = "attendance"

    id: uuid.UUID = id_field()
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", index=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    peer_id: str = Field(max_length=64)
    joined_at: datetime = created_field()
    left_at: datetime | None = time_field()
    reason: str | None = Field(default=None, max_length=40)


class ChatMessage(SQLModel, table=True):
    """A chat line posted in the room, kept with the consultation."""

    __tablename__ = "chat_message"

    id: uuid.UUID = id_field()
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", index=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id")
    text: str = Field(max_length=2000, sa_type=sa.Text)
    at: datetime = created_field()


class MinutesBase(SQLModel):
    """The content of the minutes (biên bản hội chẩn)."""

    summary: str = Field(default="", max_length=20000, description="Tóm tắt bệnh án")
    findings: str = Field(default="", max_length=20000, description="Ý kiến các thành viên")
    conclusion: str = Field(default="", max_length=5000, description="Kết luận (chẩn đoán)")
    icd10: str | None = Field(default=None, max_length=10)
    treatment_plan: str = Field(default="", max_length=20000, description="Hướng xử trí")


class MinutesUpdate(MinutesBase):
    """Input for writing a draft."""

    attendees: list[dict[str, Any]] | None = None


class Minutes(MinutesBase, table=True):
    """The minutes of one consultation about one case; final minutes never change."""

    __tablename__ = "minutes"
    __table_args__ = (sa.UniqueConstraint("consultation_id", "case_id", name="uq_minutes_case"),)

    id: uuid.UUID = id_field()
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", index=True)
    case_id: uuid.UUID = Field(foreign_key="clinical_case.id", index=True)
    # Who attended: [{"user_id", "name", "facility", "role"}], pre-filled from attendance.
    attendees: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    summary: str = Field(default="", sa_type=sa.Text)
    findings: str = Field(default="", sa_type=sa.Text)
    conclusion: str = Field(default="", sa_type=sa.Text)
    treatment_plan: str = Field(default="", sa_type=sa.Text)
    status: MinutesStatus = enum_field(MinutesStatus.draft)
    author_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    finalized_by: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    finalized_at: datetime | None = time_field()
    created_at: datetime = created_field()
    updated_at: datetime | None = time_field()


class MinutesPublic(MinutesBase):
    """Minutes as the API shows them."""

    id: uuid.UUID
    consultation_id: uuid.UUID
    case_id: uuid.UUID
    attendees: list[dict[str, Any]]
    status: MinutesStatus
    author_id: uuid.UUID | None
    finalized_by: uuid.UUID | None
    finalized_at: datetime | None
    updated_at: datetime | None


ConsultationPublic.model_rebuild()
