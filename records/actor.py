"""Who is acting: the identity every service call carries, for access rules and the audit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from .models import Role, User

DEFAULT_FOLLOWUP_DAYS = 30


@dataclass(frozen=True, slots=True)
class ReadPolicy:
    """How far an actor's reading reaches beyond their own facility; set once, from settings."""

    # An invitation keeps opening a case this long after its minutes are final.
    followup_days: int = DEFAULT_FOLLOWUP_DAYS

    @property
    def followup(self) -> timedelta:
        """The follow-up window as a duration."""
        return timedelta(days=self.followup_days)


@dataclass(frozen=True, slots=True)
class Actor:
    """The person (or the system itself) on whose behalf a service runs."""

    user_id: uuid.UUID | None
    username: str
    role: Role | None
    facility_id: uuid.UUID | None
    client_addr: str | None = None
    policy: ReadPolicy = field(default_factory=ReadPolicy)

    @classmethod
    def of(
        cls, user: User, *, client_addr: str | None = None, policy: ReadPolicy | None = None
    ) -> Actor:
        """The actor for a signed-in user, reading under the given policy (else the default)."""
        return cls(
            user_id=user.id,
            username=user.username,
            role=user.role,
            facility_id=user.facility_id,
            client_addr=client_addr,
            policy=policy or ReadPolicy(),
        )

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """The actor for the command line and background work: all access, still audited."""
        return cls(user_id=None, username=name, role=None, facility_id=None)

    @property
    def is_system(self) -> bool:
        """Whether this is the system rather than a person."""
        return self.user_id is None
