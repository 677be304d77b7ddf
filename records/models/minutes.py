"""The minutes of a consultation on the Ministry of Health's form (Thông tư 49/2017/TT-BYT,
Phụ lục I): drafted by the chair, signed by the chair and the secretary, then immutable."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from .base import created_field, enum_field, id_field, time_field
from .enums import MinutesStatus

ICD10_CODE = re.compile(r"^[A-TV-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
# Bounds that keep one document a document: a form, not a dump.
MAX_ATTENDEES = 60
MAX_CONCLUSIONS = 30
MAX_ICD10 = 10
# The model validators raise these; the web edge shows them in Vietnamese (web.validation).
ICD10_FORMAT = "not an ICD-10 code"


def clean_icd10_codes(value: object) -> object:
    """ICD-10 codes as a list, upper case, without repeats; a comma-separated string is split."""
    if isinstance(value, str):
        value = [part for part in re.split(r"[,;\s]+", value) if part]
    if not isinstance(value, list):
        return value
    out: list[object] = []
    for code in value:
        if isinstance(code, str):
            code = code.strip().upper()
            if not ICD10_CODE.match(code):
                raise ValueError(ICD10_FORMAT)
        if code not in out:
            out.append(code)
    return out


class AttendeeChoice(SQLModel):
    """Who the chair lists as present: a participant, as a member or as an invited guest.

    Names, titles, specialties and units are filled in by the server from the records.
    """

    user_id: uuid.UUID
    guest: bool = False


class Conclusion(SQLModel):
    """One question the case asked and the consultation's answer to it."""

    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(default="", max_length=5000)

    @field_validator("question", "answer", mode="before")
    @classmethod
    def _strip(cls, v: object) -> object:
        return v.strip() if isinstance(v, str) else v


class MinutesBase(SQLModel):
    """The content of the minutes (biên bản hội chẩn), as the chair writes it."""

    place: str = Field(default="", max_length=300, description="Địa điểm")
    reason: str = Field(default="", max_length=5000, description="Lý do hội chẩn")
    summary: str = Field(
        default="", max_length=20000, description="Tóm tắt tiền sử, diễn biến, kết quả, điều trị"
    )
    findings: str = Field(default="", max_length=20000, description="Ý kiến các thành viên")
    conclusion: str = Field(default="", max_length=5000, description="Chẩn đoán")
    icd10: str | None = Field(default=None, max_length=10)
    treatment_plan: str = Field(
        default="", max_length=20000, description="Hướng điều trị và chăm sóc"
    )


class MinutesUpdate(MinutesBase):
    """Input for writing a draft."""

    attendees: list[AttendeeChoice] | None = Field(default=None, max_length=MAX_ATTENDEES)
    conclusions: list[Conclusion] | None = Field(default=None, max_length=MAX_CONCLUSIONS)
    icd10_codes: list[str] | None = Field(default=None, max_length=MAX_ICD10)

    @field_validator("icd10_codes", mode="before")
    @classmethod
    def _codes(cls, v: object) -> object:
        return clean_icd10_codes(v)

    @field_validator("icd10", mode="before")
    @classmethod
    def _code(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip().upper() or None
            if v is not None and not ICD10_CODE.match(v):
                raise ValueError(ICD10_FORMAT)
        return v


class MinutesConfirm(SQLModel):
    """A signer's confirmation: their password, asked again."""

    password: str = Field(min_length=1, max_length=200)


class Minutes(MinutesBase, table=True):
    """The minutes of one consultation about one case, in versions; final ones never change.

    An amendment is a new row (version + 1) that names the one it supersedes.
    """

    __tablename__ = "minutes"
    __table_args__ = (
        sa.UniqueConstraint("consultation_id", "case_id", "version", name="uq_minutes_version"),
        sa.UniqueConstraint("facility_id", "number_year", "number_seq", name="uq_minutes_number"),
    )

    id: uuid.UUID = id_field()
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", index=True)
    case_id: uuid.UUID = Field(foreign_key="clinical_case.id", index=True)
    version: int = Field(default=1)
    supersedes_id: uuid.UUID | None = Field(default=None, foreign_key="minutes.id")
    # The host facility, whose register numbers the minutes (12/BB-HC, per year).
    facility_id: uuid.UUID | None = Field(default=None, foreign_key="facility.id")
    number_year: int | None = None
    number_seq: int | None = None
    # Who attended: [{"user_id", "name", "title", "specialty", "facility", "role", "guest"}].
    attendees: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    # The facilities connected to the call (điểm cầu), in the order they joined.
    connection_points: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # [{"question", "answer"}], one per question of the case.
    conclusions: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    icd10_codes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # The patient block as it stood when the minutes were finalised.
    patient_block: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    started_at: datetime | None = time_field()
    ended_at: datetime | None = time_field()
    reason: str = Field(default="", sa_type=sa.Text)
    summary: str = Field(default="", sa_type=sa.Text)
    findings: str = Field(default="", sa_type=sa.Text)
    conclusion: str = Field(default="", sa_type=sa.Text)
    treatment_plan: str = Field(default="", sa_type=sa.Text)
    status: MinutesStatus = enum_field(MinutesStatus.draft)
    author_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    secretary_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    chair_confirmed_at: datetime | None = time_field()
    secretary_confirmed_at: datetime | None = time_field()
    finalized_by: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    finalized_at: datetime | None = time_field()
    # The signed PDF, stored as an attachment of the case.
    pdf_attachment_id: uuid.UUID | None = Field(default=None, foreign_key="attachment.id")
    created_at: datetime = created_field()
    updated_at: datetime | None = time_field()

    @property
    def number(self) -> str | None:
        """The register number as written on the form: "12/BB-HC"."""
        return None if self.number_seq is None else f"{self.number_seq}/BB-HC"


class MinutesPublic(MinutesBase):
    """Minutes as the API shows them."""

    id: uuid.UUID
    consultation_id: uuid.UUID
    case_id: uuid.UUID
    version: int
    supersedes_id: uuid.UUID | None
    number: str | None
    number_year: int | None
    attendees: list[dict[str, Any]]
    connection_points: list[str]
    conclusions: list[dict[str, Any]]
    icd10_codes: list[str]
    patient_block: dict[str, Any]
    started_at: datetime | None
    ended_at: datetime | None
    status: MinutesStatus
    author_id: uuid.UUID | None
    secretary_id: uuid.UUID | None
    chair_confirmed_at: datetime | None
    secretary_confirmed_at: datetime | None
    finalized_by: uuid.UUID | None
    finalized_at: datetime | None
    pdf_attachment_id: uuid.UUID | None
    updated_at: datetime | None


class MinutesCounter(SQLModel, table=True):
    """The last register number a facility gave to minutes in a year."""

    __tablename__ = "minutes_counter"

    facility_id: uuid.UUID = Field(foreign_key="facility.id", primary_key=True)
    year: int = Field(primary_key=True)
    last: int = Field(default=0)
