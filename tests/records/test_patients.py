"""Patients: unique MRN per facility, accent-insensitive search, facility isolation, audit."""

from __future__ import annotations

import factories
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from records import audit_log
from records.actor import Actor
from records.errors import Conflict, Forbidden, NotFound
from records.models import (
    FacilityLevel,
    ParticipantRole,
    PatientCreate,
    PatientUpdate,
    Role,
    Sex,
)
from records.services import patients


def new(name: str, mrn: str, bhyt: str | None = None) -> PatientCreate:
    return PatientCreate(
        mrn=mrn, full_name=name, sex=Sex.male, birth_year=1960, insurance_number=bhyt
    )


async def test_create_unique_mrn_and_update(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    other = await factories.facility(session)
    doc = Actor.of(await factories.user(session, facility=fac))
    doc2 = Actor.of(await factories.user(session, facility=other))
    p = await patients.create_patient(session=session, data=new("Nguyễn Văn  A", "BN1"), actor=doc)
    assert p.facility_id == fac.id and p.name_folded == "nguyen van a"
    with pytest.raises(Conflict):
        await patients.create_patient(session=session, data=new("Khác", "BN1"), actor=doc)
    # The same MRN at another facility is another patient.
    await patients.create_patient(session=session, data=new("Lê Văn B", "BN1"), actor=doc2)
    p = await patients.update_patient(
        session=session, patient_id=p.id, actor=doc, data=PatientUpdate(full_name="Nguyễn Văn Ánh")
    )
    assert p.name_folded == "nguyen van anh"
    with pytest.raises(NotFound):
        await patients.update_patient(
            session=session, patient_id=p.id, actor=doc2, data=PatientUpdate(full_name="X Y")
        )
    with pytest.raises(Forbidden):
        await patients.create_patient(
            session=session, data=new("C D", "BN9"), actor=doc, facility_id=other.id
        )


async def test_search_is_accent_insensitive_and_isolated(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    other = await factories.facility(session)
    doc = Actor.of(await factories.user(session, facility=fac))
    a = await factories.patient(
        session,
        facility=fac,
        full_name="Nguyễn Văn A",
        mrn="CT-001",
        insurance_number="DN4797412345678",
    )
    b = await factories.patient(session, facility=fac, full_name="Trần Thị Bình", mrn="CT-002")
    await factories.patient(session, facility=other, full_name="Nguyễn Văn A", mrn="PL-001")

    async def ids(q: str | None) -> list[object]:
        page = await patients.list_patients(session=session, actor=doc, q=q)
        return [p.id for p in page.items]

    assert await ids("nguyen van a") == [a.id]
    assert await ids("NGUYỄN") == [a.id]
    assert await ids("van a") == [a.id]
    assert await ids("binh") == [b.id]
    assert await ids("CT-00") == [a.id, b.id]
    assert await ids("dn4797") == [a.id]
    assert await ids("100%") == []
    assert await ids(None) == [a.id, b.id]
    page = await patients.list_patients(session=session, actor=doc, limit=1, offset=1)
    assert page.total == 2 and [p.id for p in page.items] == [b.id]


async def test_view_is_audited_and_admin_sees_nothing(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    doc = Actor.of(await factories.user(session, facility=fac))
    admin = Actor.of(await factories.user(session, facility=fac, role=Role.admin))
    p = await factories.patient(session, facility=fac)
    await patients.get_patient(session=session, patient_id=p.id, actor=doc)
    with pytest.raises(NotFound):
        await patients.get_patient(session=session, patient_id=p.id, actor=admin)
    assert (await patients.list_patients(session=session, actor=admin)).total == 0
    events = await audit_log.list_events(
        session=session, actor=admin, patient_id=p.id, limit=10, offset=0
    )
    assert [e.action for e in reversed(events.items)] == ["view", "denied"]


async def test_search_pages_add_up_and_reach_invited_patients(session: AsyncSession) -> None:
    fac = await factories.facility(session)
    host = await factories.facility(session, level=FacilityLevel.provincial)
    doc_user = await factories.user(session, facility=fac)
    doc = Actor.of(doc_user)
    specialist_user = await factories.user(session, facility=host)
    specialist = Actor.of(specialist_user)
    names = [
        "Nguyễn Văn Anh",
        "Lê Nguyễn Văn",
        "Nguyễn Văn An",
        "Nguyễn Vinh",
        "Phạm Nguyễn Văn Ánh",
    ]
    made = [
        await factories.patient(session, facility=fac, full_name=n, mrn=f"NV-{i}")
        for i, n in enumerate(names)
    ]
    await factories.patient(session, facility=host, full_name="Nguyễn Văn Hải", mrn="BV-1")

    full = await patients.list_patients(session=session, actor=doc, q="nguyen van")
    assert [p.full_name for p in full.items] == [
        "Lê Nguyễn Văn",
        "Nguyễn Văn An",
        "Nguyễn Văn Anh",
        "Phạm Nguyễn Văn Ánh",
    ]
    assert full.total == 4
    paged: list[object] = []
    for offset in (0, 3, 6):
        page = await patients.list_patients(
            session=session, actor=doc, q="nguyen van", limit=3, offset=offset
        )
        assert page.total == 4
        paged += [p.id for p in page.items]
    assert paged == [p.id for p in full.items]

    # A specialist of another facility sees only the patient of a case they are invited to.
    case = await factories.case(session, patient=made[4], author=doc_user)
    own = await patients.list_patients(session=session, actor=specialist, q="nguyen van")
    assert [p.full_name for p in own.items] == ["Nguyễn Văn Hải"]
    await factories.consultation(
        session,
        host=host,
        requesting=fac,
        cases=[case],
        participants={specialist_user.id: ParticipantRole.specialist},
    )
    page = await patients.list_patients(session=session, actor=specialist, q="nguyen van")
    assert sorted(p.full_name for p in page.items) == ["Nguyễn Văn Hải", "Phạm Nguyễn Văn Ánh"]
    assert page.total == 2
