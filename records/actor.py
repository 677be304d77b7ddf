"""Who is acting: the identity every service call carries, for access rules and the audit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .models import Role, User


@dataclass(frozen=True, slots=True)
class Actor:
    """The person (or the system itself) on whose behalf a service runs."""

    user_id: uuid.UUID | None
    username: str
    role: Role | None
    facility_id: uuid.UUID | None
    client_addr: str | None = None

    @classmethod
    def of(cls, user: User, *, client_addr: str | None = None) -> Actor:
        """The actor for a signed-in user."""
        return cls(
            user_id=user.id,
            username=user.username,
            role=user.role,
            facility_id=user.facility_id,
            client_addr=client_addr,
        )

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """The actor for the command line and background work: all access, still audited."""
        return cls(user_id=None, username=name, role=None, facility_id=None)

    @property
    def is_system(self) -> bool:
        """Whether this is the system rather than a person."""
        return self.user_id is None
