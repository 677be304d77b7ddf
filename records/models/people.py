"""Facilities on the referral line and the people who work in them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from .base import created_field, enum_field, id_field, time_field
from .enums import FacilityLevel, Role


class FacilityBase(SQLModel):
    """Fields shared by every facility shape."""

    code: str = Field(min_length=2, max_length=32, schema_extra={"pattern": r"^[A-Za-z0-9_.-]+$"})
    name: str = Field(min_length=2, max_length=200)
    level: FacilityLevel = enum_field()
    address: str | None = Field(default=None, max_length=300)
    # The body it answers to, printed above its name on official forms ("SỞ Y TẾ BÌNH PHƯỚC").
    governing_body: str | None = Field(default=None, max_length=200)


class FacilityCreate(FacilityBase):
    """Input for a new facility."""

    parent_id: uuid.UUID | None = None


class FacilityUpdate(SQLModel):
    """Editable facility fields."""

    name: str | None = Field(default=None, min_length=2, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    governing_body: str | None = Field(default=None, max_length=200)
    parent_id: uuid.UUID | None = None


class Facility(FacilityBase, table=True):
    """A commune station, district centre, provincial or central hospital."""

    __tablename__ = "facility"

    id: uuid.UUID = id_field()
    code: str = Field(max_length=32, unique=True, index=True)
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="facility.id", index=True)
    created_at: datetime = created_field()


class FacilityPublic(FacilityBase):
    """A facility as the API shows it."""

    id: uuid.UUID
    parent_id: uuid.UUID | None


class UserBase(SQLModel):
    """Fields shared by every user shape."""

    username: str = Field(
        min_length=3, max_length=64, schema_extra={"pattern": r"^[a-z0-9][a-z0-9_.-]*$"}
    )
    full_name: str = Field(min_length=2, max_length=120)
    title: str = Field(default="", max_length=40)
    role: Role = enum_field()
    specialty: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30)

    @field_validator("username", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v


class UserCreate(UserBase):
    """Input for a new user (the password is set separately)."""

    facility_id: uuid.UUID


class UserUpdate(SQLModel):
    """Editable user fields."""

    full_name: str | None = Field(default=None, min_length=2, max_length=120)
    title: str | None = Field(default=None, max_length=40)
    role: Role | None = None
    specialty: str | None = Field(default=None, max_length=100)
    facility_id: uuid.UUID | None = None
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30)
    active: bool | None = None


class User(UserBase, table=True):
    """A person who signs in: admin, coordinator, doctor or specialist."""

    __tablename__ = "app_user"

    id: uuid.UUID = id_field()
    username: str = Field(max_length=64, unique=True, index=True)
    facility_id: uuid.UUID = Field(foreign_key="facility.id", index=True)
    active: bool = Field(default=True)
    # argon2id hash; None until a password is set.
    password_hash: str | None = Field(default=None, max_length=255)
    password_changed_at: datetime | None = time_field()
    failed_logins: int = Field(default=0)
    locked_at: datetime | None = time_field()
    # The language of e-mails and of pages before a choice is made; None: the server's.
    language: str | None = Field(default=None, max_length=5)
    created_at: datetime = created_field()

    @property
    def display_name(self) -> str:
        """Title and name, as colleagues address each other: "BS. Nguyễn Thị Lan"."""
        return f"{self.title} {self.full_name}".strip()


class UserPublic(UserBase):
    """A user as the API shows it (never the hash)."""

    id: uuid.UUID
    facility_id: uuid.UUID
    active: bool
    display_name: str


def user_public(user: User) -> UserPublic:
    """The public view of a user."""
    data = user.model_dump(exclude={"password_hash"})
    return UserPublic(**data, display_name=user.display_name)


__all__ = [
    "Facility",
    "FacilityCreate",
    "FacilityPublic",
    "FacilityUpdate",
    "User",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "user_public",
]
