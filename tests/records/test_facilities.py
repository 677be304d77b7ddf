"""Facilities: referral-line rules, unique codes, admin-only writes, search."""

from __future__ import annotations

import factories
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from records import audit
from records.actor import Actor
from records.errors import Conflict, Forbidden, Invalid, NotFound
from records.models import AuditEvent, FacilityCreate, FacilityLevel, FacilityUpdate, Role
from records.services import facilities

SYSTEM = Actor.system()


async def test_create_validates_line_and_code(session: AsyncSession) -> None:
    prov = await facilities.create_facility(
        session=session,
        actor=SYSTEM,
        data=FacilityCreate(
            code="BVT-BP", name="Bệnh viện đa khoa tỉnh Bình Phước", level=FacilityLevel.provincial
        ),
    )
    dist = await facilities.create_facility(
        session=session,
        actor=SYSTEM,
        data=FacilityCreate(
            code="TTYT-CT",
            name="Trung tâm Y tế huyện Chơn Thành",
            level=FacilityLevel.district,
            parent_id=prov.id,
        ),
    )
    assert dist.parent_id == prov.id
    with pytest.raises(Conflict):
        await facilities.create_facility(
            session=session,
            actor=SYSTEM,
            data=FacilityCreate(code="TTYT-CT", name="Khác", level=FacilityLevel.district),
        )
    with pytest.raises(Invalid) as err:
        await facilities.create_facility(
            session=session,
            actor=SYSTEM,
            data=FacilityCreate(
                code="BVT-2", name="Tỉnh khác", level=FacilityLevel.provincial, parent_id=dist.id
            ),
        )
    assert "parent_id" in err.value.fields
    with pytest.raises(Invalid):
        await facilities.update_facility(
            session=session,
            facility_id=prov.id,
            actor=SYSTEM,
            data=FacilityUpdate(parent_id=dist.id),
        )
    assert (await audit.verify(session)).ok


async def test_only_admins_write(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    doctor = Actor.of(await factories.user(session, facility=fac, role=Role.doctor))
    admin = Actor.of(await factories.user(session, facility=fac, role=Role.admin))
    data = FacilityCreate(code="X1", name="Trạm Y tế xã", level=FacilityLevel.commune)
    with pytest.raises(Forbidden):
        await facilities.create_facility(session=session, data=data, actor=doctor)
    created = await facilities.create_facility(session=session, data=data, actor=admin)
    updated = await facilities.update_facility(
        session=session,
        facility_id=created.id,
        data=FacilityUpdate(name="Trạm Y tế xã Minh Hưng"),
        actor=admin,
    )
    assert updated.name == "Trạm Y tế xã Minh Hưng"
    with pytest.raises(NotFound):
        await facilities.get_facility(session=session, facility_id=doctor.user_id)  # type: ignore[arg-type]


async def test_refused_writes_are_audited(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    doctor = Actor.of(await factories.user(session, facility=fac, role=Role.doctor))
    with pytest.raises(Forbidden):
        await facilities.create_facility(
            session=session,
            data=FacilityCreate(code="X2", name="Trạm Y tế xã", level=FacilityLevel.commune),
            actor=doctor,
        )
    with pytest.raises(Forbidden):
        await facilities.update_facility(
            session=session, facility_id=fac.id, data=FacilityUpdate(name="Đổi tên"), actor=doctor
        )
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
    assert [(e.actor_id, e.object_type, e.object_id, e.outcome, e.detail) for e in denied] == [
        (doctor.user_id, "facility", None, "denied", {"need": "admin"}),
        (doctor.user_id, "facility", str(fac.id), "denied", {"need": "admin"}),
    ]
    await session.refresh(fac)
    assert fac.name != "Đổi tên"
    assert (await audit.verify(session)).ok


async def test_list_and_above(session: AsyncSession) -> None:
    central = await factories.facility(
        session, level=FacilityLevel.central, name="Bệnh viện Chợ Rẫy"
    )
    prov = await factories.facility(
        session, level=FacilityLevel.provincial, name="Bệnh viện tỉnh Bình Phước", parent=central
    )
    other = await factories.facility(
        session, level=FacilityLevel.provincial, name="BV tỉnh Đồng Nai"
    )
    dist = await factories.facility(
        session, level=FacilityLevel.district, name="Trung tâm Y tế thị xã Phước Long", parent=prov
    )
    page = await facilities.list_facilities(session=session, q="phuoc long")
    assert [f.id for f in page.items] == [dist.id]
    page = await facilities.list_facilities(session=session, level=FacilityLevel.provincial)
    assert {f.id for f in page.items} == {prov.id, other.id}
    above = await facilities.facilities_above(session=session, facility=dist)
    assert [f.id for f in above][:2] == [prov.id, central.id]
    assert {f.id for f in above} == {prov.id, central.id, other.id}
    assert await facilities.facilities_above(session=session, facility=central) == []
