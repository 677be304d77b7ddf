"""Every refusal of a role check, in the API and on the pages, leaves one `denied` audit event."""

from __future__ import annotations

from typing import Any

import pytest
from apitools import Api
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select

from records.db import session_maker
from records.models import AuditEvent, Facility, User


async def _denied(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with session_maker(engine)() as s:
        rows = await s.execute(
            select(AuditEvent).where(AuditEvent.action == "denied").order_by(col(AuditEvent.seq))
        )
        return [(e.actor_id, e.object_type, e.object_id, e.detail) for e in rows.scalars()]


async def _count(engine: AsyncEngine, model: type[Facility] | type[User]) -> int:
    async with session_maker(engine)() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_doctor_calling_admin_endpoints_is_refused_and_audited(
    api: Api, engine: AsyncEngine
) -> None:
    doctor = api.world.users["doctor"]
    facilities, users = await _count(engine, Facility), await _count(engine, User)
    body = {"code": "TYT-MH", "name": "Trạm Y tế xã Minh Hưng", "level": "commune"}
    (await api.post("/api/v1/facilities", json=body)).error(403, "forbidden")
    assert await _denied(engine) == [(doctor.id, "facility", None, {"need": "admin"})]

    target = api.world.users["specialist"]
    (await api.patch(f"/api/v1/users/{target.id}", json={"active": False})).error(403)
    assert (await _denied(engine))[1:] == [(doctor.id, "user", str(target.id), {"need": "admin"})]
    assert (await _count(engine, Facility), await _count(engine, User)) == (facilities, users)
    # The admin's own call is not a refusal.
    await api.ok("POST", "/api/v1/facilities", 201, json=body, user="admin")
    assert len(await _denied(engine)) == 2


@pytest.mark.parametrize(
    ("user", "path", "object_type", "need"),
    [
        ("doctor", "/admin/users", "user", "admin"),
        ("coordinator", "/admin/facilities/new", "facility", "admin"),
        ("specialist", "/admin/audit", "audit", "admin"),
        ("coordinator", "/patients/new", "patient", "create"),
        ("specialist", "/cases/new", "case", "create"),
        ("coordinator", "/consultations/new", "consultation", "request"),
    ],
)
async def test_role_checks_of_pages_are_audited(
    api: Api, engine: AsyncEngine, user: str, path: str, object_type: str, need: str
) -> None:
    reply = await api.get(path, user=user, headers={"Accept": "text/html"})
    assert reply.status == 403, (path, reply.status)
    assert await _denied(engine) == [(api.world.users[user].id, object_type, None, {"need": need})]
