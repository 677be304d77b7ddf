"""Users: admin-only writes, unique usernames, invitee search by name, specialty, facility."""

from __future__ import annotations

import uuid

import factories
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from records.actor import Actor
from records.errors import Conflict, Forbidden, Invalid, NotFound
from records.models import AuditEvent, FacilityLevel, Role, User, UserCreate, UserUpdate
from records.services import users


async def test_create_update_and_deactivate(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    admin_user = await factories.user(session, facility=fac, role=Role.admin)
    admin = Actor.of(admin_user)
    data = UserCreate(
        username="Lan.NT",
        full_name="Nguyễn Thị Lan",
        role=Role.specialist,
        facility_id=fac.id,
        title="TS.BS.",
        specialty="Tim mạch",
    )
    lan = await users.create_user(session=session, data=data, actor=admin)
    assert lan.username == "lan.nt"
    with pytest.raises(Conflict):
        await users.create_user(session=session, data=data, actor=admin)
    with pytest.raises(Invalid):
        await users.create_user(
            session=session,
            actor=admin,
            data=data.model_copy(update={"username": "other", "facility_id": uuid.uuid4()}),
        )
    doctor = Actor.of(await factories.user(session, facility=fac, role=Role.doctor))
    with pytest.raises(Forbidden):
        await users.update_user(
            session=session, user_id=lan.id, data=UserUpdate(title="BS."), actor=doctor
        )
    await users.set_active(session=session, user_id=lan.id, active=False, actor=admin)
    with pytest.raises(NotFound):
        await users.get_user(session=session, user_id=lan.id, actor=doctor)
    assert (await users.get_user(session=session, user_id=lan.id, actor=admin)).active is False
    with pytest.raises(Conflict):
        await users.set_active(session=session, user_id=admin_user.id, active=False, actor=admin)


async def test_invitee_search(session: AsyncSession) -> None:
    prov = await factories.facility(
        session, level=FacilityLevel.provincial, name="Bệnh viện đa khoa tỉnh Bình Phước"
    )
    dist = await factories.facility(session, name="Trung tâm Y tế huyện Chơn Thành")
    lan = await factories.user(
        session,
        facility=prov,
        role=Role.specialist,
        full_name="Nguyễn Thị Lan",
        specialty="Tim mạch",
    )
    await factories.user(
        session,
        facility=prov,
        role=Role.specialist,
        full_name="Đặng Văn Đức",
        specialty="Chẩn đoán hình ảnh",
    )
    coord = Actor.of(
        await factories.user(session, facility=prov, role=Role.coordinator, full_name="Lê Hoa")
    )
    doc = Actor.of(await factories.user(session, facility=dist, role=Role.doctor))
    spec = Actor.of(lan)

    page = await users.list_users(session=session, actor=coord, q="nguyen thi lan")
    assert [u.id for u in page.items] == [lan.id]
    page = await users.list_users(session=session, actor=doc, q="ĐỨC")
    assert [u.full_name for u in page.items] == ["Đặng Văn Đức"]
    page = await users.list_users(session=session, actor=coord, specialty="tim mach")
    assert [u.id for u in page.items] == [lan.id]
    page = await users.list_users(session=session, actor=coord, q="lan binh phuoc")
    assert [u.id for u in page.items] == [lan.id]
    page = await users.list_users(
        session=session, actor=coord, role=Role.specialist, facility_id=prov.id
    )
    assert page.total == 2
    with pytest.raises(Forbidden):
        await users.list_users(session=session, actor=spec)


async def test_every_refusal_is_audited(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    target = await factories.user(session, facility=fac, role=Role.specialist)
    doctor = Actor.of(await factories.user(session, facility=fac, role=Role.doctor))
    spec = Actor.of(target)
    data = UserCreate(
        username="moi.nguoi", full_name="Người Mới", role=Role.admin, facility_id=fac.id
    )
    with pytest.raises(Forbidden):
        await users.create_user(session=session, data=data, actor=doctor)
    with pytest.raises(Forbidden):
        await users.set_active(session=session, user_id=target.id, active=False, actor=doctor)
    with pytest.raises(Forbidden):
        await users.list_users(session=session, actor=spec)
    denied = (
        (
            await session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "denied")
                .order_by(col(AuditEvent.seq))
            )
        )
        .scalars()
        .all()
    )
    assert [(e.actor_id, e.object_type, e.object_id, e.detail) for e in denied] == [
        (doctor.user_id, "user", None, {"need": "admin"}),
        (doctor.user_id, "user", str(target.id), {"need": "admin"}),
        (spec.user_id, "user", None, {"need": "list"}),
    ]
    await session.refresh(target)
    assert target.active is True
    taken = await session.execute(select(User.id).where(User.username == "moi.nguoi"))
    assert taken.first() is None
