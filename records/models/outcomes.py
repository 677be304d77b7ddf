"""What happened to the patient after the consultation, reported back to the consultants."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import created_field, enum_field, id_field


class OutcomeKind(StrEnum):
    """What became of the patient after the consultation."""

    followed = "followed"  # treated as the minutes advised
    changed = "changed"  # the plan was changed
    transferred = "transferred"  # sent to another facility
    improved = "improved"  # recovered or improved
    died = "died"
    other = "other"


# Kinds that say little without a note: what changed, where to, what else happened.
NOTE_REQUIRED = frozenset({OutcomeKind.changed, OutcomeKind.transferred, OutcomeKind.other})


class OutcomeBase(SQLModel):
    """An outcome as the requesting doctor reports it."""

    kind: OutcomeKind = enum_field()
    outcome_date: date
    note: str = Field(default="", max_length=2000)


class OutcomeCreate(OutcomeBase):
    """Input for a new outcome entry (the service checks the date and the note)."""


class CaseOutcome(OutcomeBase, table=True):
    """One outcome entry about a case after the final minutes of one consultation; entries
    are only ever added (a later one supersedes an earlier one on the pages)."""

    __tablename__ = "case_outcome"
    __table_args__ = (sa.Index("ix_case_outcome_minutes", "consultation_id", "case_id"),)

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="clinical_case.id", index=True)
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id")
    minutes_id: uuid.UUID = Field(foreign_key="minutes.id")
    note: str = Field(default="", sa_type=sa.Text)
    recorded_by: uuid.UUID = Field(foreign_key="app_user.id")
    recorded_at: datetime = created_field()


class CaseOutcomePublic(OutcomeBase):
    """An outcome entry as the API shows it."""

    id: uuid.UUID
    case_id: uuid.UUID
    consultation_id: uuid.UUID
    minutes_id: uuid.UUID
    recorded_by: uuid.UUID
    recorded_at: datetime


class OutcomeReminder(SQLModel, table=True):
    """That the "outcome overdue" notice for a set of final minutes went out (once; the row
    is the claim, so two server processes never both send it)."""

    __tablename__ = "outcome_reminder"

    minutes_id: uuid.UUID = Field(foreign_key="minutes.id", primary_key=True)
    sent_at: datetime = created_field()
