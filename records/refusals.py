"""How the access rules say no: the refusal is audited as ``denied``, then raised.

An actor who may not know an object exists gets NotFound, so ids cannot be probed; Forbidden
only when they may see it but not do this. ``records.access`` re-exports these with its rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from . import audit
from .actor import Actor
from .errors import Forbidden, NotFound
from .messages import N_, Message, msg
from .models import Role

_NOT_FOUND = {
    "patient": N_("Không tìm thấy bệnh nhân"),
    "case": N_("Không tìm thấy hồ sơ"),
    "consultation": N_("Không tìm thấy phiên hội chẩn"),
}
NO_PERMISSION = N_("Bạn không có quyền thực hiện thao tác này")


async def deny(
    session: AsyncSession,
    *,
    actor: Actor,
    object_type: str,
    object_id: object,
    need: str,
    patient_id: uuid.UUID | None = None,
    forbidden: Message | None = None,
) -> Exception:
    """Audit a refusal and return the error to raise (Forbidden if a message is given)."""
    await audit.record_now(
        session,
        actor=actor,
        action="denied",
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        outcome="denied",
        detail={"need": need},
    )
    if forbidden is not None:
        return Forbidden(forbidden)
    return NotFound(msg(_NOT_FOUND.get(object_type, N_("Không tìm thấy"))))


async def require_admin(
    session: AsyncSession, *, actor: Actor, object_type: str, object_id: object = None
) -> None:
    """Refuse anyone but an admin (or the system) with Forbidden; the refusal is audited."""
    if actor.is_system or actor.role == Role.admin:
        return
    raise await deny(
        session,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        need="admin",
        forbidden=msg("Chỉ quản trị viên được thực hiện thao tác này"),
    )


async def require_role(
    session: AsyncSession,
    *,
    actor: Actor,
    roles: Iterable[Role],
    object_type: str,
    need: str,
    object_id: object = None,
    message: Message | None = None,
) -> None:
    """Refuse anyone whose role is not among ``roles`` (the system passes) with Forbidden, audited.

    For screens and actions that belong to a role as a whole (a doctor's new-case form);
    rules that depend on the object go through the ``require_*`` functions of ``access``.
    """
    if actor.is_system or actor.role in frozenset(roles):
        return
    raise await deny(
        session,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        need=need,
        forbidden=message or msg(NO_PERMISSION),
    )
