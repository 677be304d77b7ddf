"""Accounts at rest: browser sessions, API tokens, room join tokens and failed-login counters.

Secrets (session ids, tokens) are never stored: only their SHA-256, so a copy of the database
does not let anyone sign in.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import created_field, id_field, time_field


class UserSession(SQLModel, table=True):
    """A signed-in browser: idle and absolute expiry, ended at logout."""

    __tablename__ = "user_session"

    id: uuid.UUID = id_field()
    # SHA-256 (hex) of the cookie value.
    id_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = created_field()
    # Refreshed at most once a minute while the browser is in use (sliding idle expiry).
    last_seen_at: datetime = created_field()
    # The absolute end, whatever the activity.
    expires_at: datetime = time_field(nullable=False, index=True)
    # Fixed at creation so every process (web and signalling) applies the same timeout.
    idle_seconds: int = Field(default=1800)
    client_addr: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class ApiToken(SQLModel, table=True):
    """A bearer token for scripts and other programs."""

    __tablename__ = "api_token"

    id: uuid.UUID = id_field()
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = created_field()
    expires_at: datetime = time_field(nullable=False, index=True)
    created_by: str = Field(default="", max_length=64)


class JoinToken(SQLModel, table=True):
    """A single-use, short-lived ticket into one consultation room."""

    __tablename__ = "join_token"

    id: uuid.UUID = id_field()
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    room_id: str = Field(max_length=64, index=True)
    created_at: datetime = created_field()
    expires_at: datetime = time_field(nullable=False, index=True)
    used_at: datetime | None = time_field()


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins counted per attempted account ("u:name") and per client address ("a:ip")."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=200)
    failures: int = Field(default=0)
    last_failure_at: datetime | None = time_field()
    # No attempt is checked before this time (the delay grows with the failures).
    blocked_until: datetime | None = time_field()
    # Set for account keys after too many failures; only an admin clears it.
    locked_at: datetime | None = time_field()


class SessionInfo(SQLModel):
    """A browser session as the API shows it (never the id)."""

    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_addr: str | None
    user_agent: str | None


__all__ = ["ApiToken", "JoinToken", "LoginThrottle", "SessionInfo", "UserSession"]
