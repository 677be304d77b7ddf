"""Patients and their case files (hồ sơ hội chẩn)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import field_validator, model_validator
from sqlmodel import Field, SQLModel

from .base import created_field, enum_field, id_field, time_field
from .enums import AttachmentKind, CaseStatus, Sex, Urgency

# Vietnamese health insurance card (thẻ BHYT): two letters, then 13 digits.
BHYT_PATTERN = r"^[A-Z]{2}[0-9]{13}$"
ICD10_PATTERN = r"^[A-TV-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$"


def _insurance_number(v: object) -> object:
    """Health insurance numbers are written with spaces and in any case; store them bare."""
    if isinstance(v, str):
        v = v.replace(" ", "").upper()
        return v or None
    return v


def _icd10(v: object) -> object:
    """ICD-10 codes are upper case ("i50.0" is I50.0); an empty code means none."""
    if isinstance(v, str):
        v = v.strip().upper()
        return v or None
    return v


class PatientBase(SQLModel):
    """Fields shared by every patient shape."""

    mrn: str = Field(min_length=1, max_length=40, description="Medical record number (mã BN)")
    full_name: str = Field(min_length=2, max_length=120)
    sex: Sex = enum_field()
    birth_date: date | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    insurance_number: str | None = Field(
        default=None, max_length=15, schema_extra={"pattern": BHYT_PATTERN}
    )
    address: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=30)

    @field_validator("full_name", "mrn", mode="before")
    @classmethod
    def _strip(cls, v: object) -> object:
        return " ".join(v.split()) if isinstance(v, str) else v

    @field_validator("insurance_number", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return _insurance_number(v)

    @field_validator("birth_date")
    @classmethod
    def _since_1900(cls, v: date | None) -> date | None:
        return _birth_date(v)


def _birth_date(v: date | None) -> date | None:
    """Birth dates start in 1900, as birth years do (and as the date columns can store)."""
    if v is not None and v.year < 1900:
        raise ValueError("birth_date is before 1900")
    return v


def _check_birth(birth_date: date | None, birth_year: int | None) -> None:
    if birth_date is None and birth_year is None:
        raise ValueError("birth_date or birth_year is required")
    if birth_date is not None and birth_year is not None and birth_date.year != birth_year:
        raise ValueError("birth_year does not match birth_date")
    if birth_date is not None and birth_date > date.today():
        raise ValueError("birth_date is in the future")


class PatientCreate(PatientBase):
    """Input for a new patient."""

    @model_validator(mode="after")
    def _birth(self) -> PatientCreate:
        _check_birth(self.birth_date, self.birth_year)
        if self.birth_date is not None:
            self.birth_year = self.birth_date.year
        return self


class PatientUpdate(SQLModel):
    """Editable patient fields."""

    full_name: str | None = Field(default=None, min_length=2, max_length=120)
    sex: Sex | None = None
    birth_date: date | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    insurance_number: str | None = Field(
        default=None, max_length=15, schema_extra={"pattern": BHYT_PATTERN}
    )
    address: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=30)

    @field_validator("insurance_number", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return _insurance_number(v)

    @field_validator("birth_date")
    @classmethod
    def _since_1900(cls, v: date | None) -> date | None:
        return _birth_date(v)


class Patient(PatientBase, table=True):
    """A patient of one facility."""

    __tablename__ = "patient"
    __table_args__ = (sa.UniqueConstraint("facility_id", "mrn", name="uq_patient_facility_mrn"),)

    id: uuid.UUID = id_field()
    facility_id: uuid.UUID = Field(foreign_key="facility.id", index=True)
    # Lower-case name without diacritics, for accent-insensitive search on any database.
    name_folded: str = Field(max_length=120, index=True)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_field()
    updated_at: datetime | None = time_field()


# SQLite finds name candidates through an FTS5 trigram table over name_folded (the patient search
# in records.services.patients reads it). Migrated databases get it from revision 6d968f21958f;
# these statements give it to schemas built from the models (create_all) too. The PostgreSQL
# and prefix indexes of that revision only speed the search up, so the models leave them out.
PATIENT_FTS_DDL = (
    "CREATE VIRTUAL TABLE patient_fts USING fts5("
    "name_folded, content='patient', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER patient_fts_ai AFTER INSERT ON patient BEGIN "
    "INSERT INTO patient_fts(rowid, name_folded) VALUES (new.rowid, new.name_folded); END",
    "CREATE TRIGGER patient_fts_ad AFTER DELETE ON patient BEGIN "
    "INSERT INTO patient_fts(patient_fts, rowid, name_folded) "
    "VALUES ('delete', old.rowid, old.name_folded); END",
    "CREATE TRIGGER patient_fts_au AFTER UPDATE OF name_folded ON patient BEGIN "
    "INSERT INTO patient_fts(patient_fts, rowid, name_folded) "
    "VALUES ('delete', old.rowid, old.name_folded); "
    "INSERT INTO patient_fts(rowid, name_folded) VALUES (new.rowid, new.name_folded); END",
)
_patient_table: sa.Table = Patient.__table__  # type: ignore[attr-defined]
for _statement in [*PATIENT_FTS_DDL, "DROP TABLE IF EXISTS patient_fts"]:
    _ddl = sa.DDL(_statement).execute_if(dialect="sqlite")  # type: ignore[no-untyped-call]
    _when = "before_drop" if _statement.startswith("DROP") else "after_create"
    sa.event.listen(_patient_table, _when, _ddl)


class PatientPublic(PatientBase):
    """A patient as the API shows it."""

    id: uuid.UUID
    facility_id: uuid.UUID
    created_at: datetime


class CaseBase(SQLModel):
    """The clinical summary in the order of a Vietnamese case presentation."""

    title: str = Field(min_length=3, max_length=200)
    specialty: str = Field(min_length=2, max_length=100)
    urgency: Urgency = enum_field(Urgency.routine)
    history: str = Field(default="", max_length=20000, description="Bệnh sử, tiền sử")
    examination: str = Field(default="", max_length=20000, description="Khám lâm sàng")
    results: str = Field(default="", max_length=20000, description="Cận lâm sàng đã có")
    diagnosis: str = Field(default="", max_length=2000, description="Chẩn đoán sơ bộ")
    icd10: str | None = Field(default=None, max_length=10, schema_extra={"pattern": ICD10_PATTERN})
    treatment: str = Field(default="", max_length=20000, description="Điều trị đã thực hiện")
    question: str = Field(default="", max_length=5000, description="Câu hỏi cho hội chẩn")

    @field_validator("icd10", mode="before")
    @classmethod
    def _icd(cls, v: object) -> object:
        return _icd10(v)


class CaseCreate(CaseBase):
    """Input for a new case file."""

    patient_id: uuid.UUID


class CaseUpdate(SQLModel):
    """Editable clinical fields (status changes go through transitions)."""

    title: str | None = Field(default=None, min_length=3, max_length=200)
    specialty: str | None = Field(default=None, min_length=2, max_length=100)
    urgency: Urgency | None = None
    history: str | None = Field(default=None, max_length=20000)
    examination: str | None = Field(default=None, max_length=20000)
    results: str | None = Field(default=None, max_length=20000)
    diagnosis: str | None = Field(default=None, max_length=2000)
    icd10: str | None = Field(default=None, max_length=10, schema_extra={"pattern": ICD10_PATTERN})
    treatment: str | None = Field(default=None, max_length=20000)
    question: str | None = Field(default=None, max_length=5000)

    @field_validator("icd10", mode="before")
    @classmethod
    def _icd(cls, v: object) -> object:
        return _icd10(v)


class Case(CaseBase, table=True):
    """A case file prepared for a consultation."""

    __tablename__ = "clinical_case"
    __table_args__ = (
        # Covers a facility's cases for the access rule (patient_id) and for the case list's
        # ordering (updated_at, created_at, id), so neither has to read the wide rows.
        sa.Index(
            "ix_clinical_case_facility_list",
            "facility_id",
            "updated_at",
            "created_at",
            "patient_id",
            "id",
        ),
    )

    id: uuid.UUID = id_field()
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    facility_id: uuid.UUID = Field(foreign_key="facility.id", index=True)
    author_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    status: CaseStatus = enum_field(CaseStatus.draft, index=True)
    history: str = Field(default="", sa_type=sa.Text)
    examination: str = Field(default="", sa_type=sa.Text)
    results: str = Field(default="", sa_type=sa.Text)
    treatment: str = Field(default="", sa_type=sa.Text)
    question: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = created_field()
    updated_at: datetime | None = time_field(index=True)


class CasePublic(CaseBase):
    """A case as the API shows it."""

    id: uuid.UUID
    patient_id: uuid.UUID
    facility_id: uuid.UUID
    author_id: uuid.UUID
    status: CaseStatus
    created_at: datetime
    updated_at: datetime | None


class CaseEvent(SQLModel, table=True):
    """One step in a case file's history (created, edited, status changed, file added)."""

    __tablename__ = "case_event"

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="clinical_case.id", index=True)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=40)
    detail: str = Field(default="", max_length=500)
    at: datetime = created_field()


class CaseEventPublic(SQLModel):
    """A history entry as the API shows it."""

    id: uuid.UUID
    actor_id: uuid.UUID | None
    action: str
    detail: str
    at: datetime


class Attachment(SQLModel, table=True):
    """A file attached to a case; the bytes live in the content-addressed store."""

    __tablename__ = "attachment"

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="clinical_case.id", index=True)
    consultation_id: uuid.UUID | None = Field(
        default=None, foreign_key="consultation.id", index=True
    )
    kind: AttachmentKind = enum_field()
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int = Field(sa_type=sa.BigInteger)
    sha256: str = Field(max_length=64, index=True)
    description: str = Field(default="", max_length=500)
    # Extracted facts: DICOM tags, image size, recording duration and participants.
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    uploaded_by: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    uploaded_at: datetime = created_field()


class AttachmentPublic(SQLModel):
    """An attachment as the API shows it."""

    id: uuid.UUID
    case_id: uuid.UUID
    consultation_id: uuid.UUID | None
    kind: AttachmentKind
    filename: str
    content_type: str
    size: int
    sha256: str
    description: str
    meta: dict[str, Any]
    uploaded_by: uuid.UUID | None
    uploaded_at: datetime
