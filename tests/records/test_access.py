"""Access rules per role: own facility, invitations with a follow-up window, admins, denials."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import factories
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from records import access, audit, audit_log
from records.actor import Actor, ReadPolicy
from records.errors import Forbidden, NotFound
from records.models import (
    Case,
    Consultation,
    ConsultationStatus,
    FacilityLevel,
    Minutes,
    MinutesStatus,
    Participant,
    ParticipantRole,
    Patient,
    Role,
)
from records.models.base import utcnow


@dataclass
class World:
    doctor: Actor
    other_doctor: Actor
    coordinator: Actor
    specialist: Actor
    outsider: Actor
    admin: Actor
    patient: Patient
    case: Case
    consultation: Consultation


async def world(session: AsyncSession) -> World:
    prov = await factories.facility(session, level=FacilityLevel.provincial)
    dist = await factories.facility(session, parent=prov)
    dist2 = await factories.facility(session, parent=prov)
    doc = await factories.user(session, facility=dist)
    spec = await factories.user(session, facility=prov, role=Role.specialist)
    chair = await factories.user(session, facility=prov, role=Role.specialist)
    p = await factories.patient(session, facility=dist)
    case = await factories.case(session, patient=p, author=doc, status="scheduled")
    cons = await factories.consultation(
        session,
        host=prov,
        requesting=dist,
        cases=[case],
        chair=chair,
        participants={spec.id: ParticipantRole.specialist},
    )
    return World(
        doctor=Actor.of(doc),
        other_doctor=Actor.of(await factories.user(session, facility=dist2)),
        coordinator=Actor.of(await factories.user(session, facility=prov, role=Role.coordinator)),
        specialist=Actor.of(spec),
        outsider=Actor.of(await factories.user(session, facility=prov, role=Role.specialist)),
        admin=Actor.of(await factories.user(session, facility=prov, role=Role.admin)),
        patient=p,
        case=case,
        consultation=cons,
    )


async def can_read_case(
    session: AsyncSession, actor: Actor, w: World, followup_days: int | None = None
) -> bool:
    if followup_days is not None:
        actor = replace(actor, policy=ReadPolicy(followup_days=followup_days))
    try:
        await access.require_case(session=session, actor=actor, case_id=w.case.id)
    except NotFound:
        return False
    return True


async def test_who_reads_the_case(session: AsyncSession) -> None:
    w = await world(session)
    readers = {
        "doctor": w.doctor,
        "coordinator": w.coordinator,
        "specialist": w.specialist,
        "other_doctor": w.other_doctor,
        "outsider": w.outsider,
        "admin": w.admin,
        "system": Actor.system(),
    }
    got = {name: await can_read_case(session, a, w) for name, a in readers.items()}
    assert got == {
        "doctor": True,
        "coordinator": True,
        "specialist": True,
        "other_doctor": False,
        "outsider": False,
        "admin": False,
        "system": True,
    }
    for name in ("doctor", "specialist", "coordinator"):
        await access.require_patient(session=session, actor=readers[name], patient_id=w.patient.id)
    for name in ("other_doctor", "outsider", "admin"):
        with pytest.raises(NotFound):
            await access.require_patient(
                session=session, actor=readers[name], patient_id=w.patient.id
            )


async def test_write_and_manage_rights(session: AsyncSession) -> None:
    w = await world(session)
    await access.require_case(session=session, actor=w.doctor, case_id=w.case.id, write=True)
    for actor in (w.coordinator, w.specialist):
        with pytest.raises(Forbidden):
            await access.require_case(session=session, actor=actor, case_id=w.case.id, write=True)
    await access.require_consultation(
        session=session, actor=w.coordinator, consultation_id=w.consultation.id, manage=True
    )
    for actor in (w.doctor, w.specialist):
        with pytest.raises(Forbidden):
            await access.require_consultation(
                session=session, actor=actor, consultation_id=w.consultation.id, manage=True
            )
    for actor in (w.other_doctor, w.outsider, w.admin):
        with pytest.raises(NotFound):
            await access.require_consultation(
                session=session, actor=actor, consultation_id=w.consultation.id, manage=True
            )
    denied = await audit_log.list_events(
        session=session, actor=w.admin, action="denied", limit=50, offset=0
    )
    assert denied.total == 7
    assert (await audit.verify(session)).ok


async def test_specialist_window_ends_after_followup(session: AsyncSession) -> None:
    w = await world(session)
    minutes = Minutes(
        consultation_id=w.consultation.id,
        case_id=w.case.id,
        status=MinutesStatus.final,
        finalized_at=utcnow() - timedelta(days=10),
    )
    session.add(minutes)
    await session.commit()
    assert await can_read_case(session, w.specialist, w)
    assert not await can_read_case(session, w.specialist, w, followup_days=5)
    minutes.finalized_at = utcnow() - timedelta(days=31)
    session.add(minutes)
    await session.commit()
    assert not await can_read_case(session, w.specialist, w)
    with pytest.raises(NotFound):
        await access.require_patient(session=session, actor=w.specialist, patient_id=w.patient.id)
    # The requesting facility keeps its own records; the consultation itself stays listed.
    assert await can_read_case(session, w.doctor, w)
    await access.require_consultation(
        session=session, actor=w.specialist, consultation_id=w.consultation.id
    )


async def test_cancelled_consultation_grants_nothing(session: AsyncSession) -> None:
    w = await world(session)
    w.consultation.status = ConsultationStatus.cancelled
    session.add(w.consultation)
    await session.commit()
    assert not await can_read_case(session, w.specialist, w)


async def test_filters_never_leak(session: AsyncSession) -> None:
    w = await world(session)
    now = utcnow()
    for actor, expected in ((w.other_doctor, 0), (w.admin, 0), (w.outsider, 0), (w.doctor, 1)):
        n_cases = (
            await session.execute(
                sa.select(sa.func.count()).select_from(Case).where(access.cases_filter(actor, now))
            )
        ).scalar_one()
        n_pat = (
            await session.execute(
                sa.select(sa.func.count()).select_from(Patient).where(access.patients_filter(actor))
            )
        ).scalar_one()
        assert (n_cases, n_pat) == (expected, expected)


async def test_room_roles(session: AsyncSession) -> None:
    w = await world(session)
    c = w.consultation
    chair = Actor(
        user_id=c.chair_id,
        username="chair",
        role=Role.specialist,
        facility_id=w.coordinator.facility_id,
    )
    assert await access.room_role(session=session, actor=chair, consultation=c) == "moderator"
    assert (
        await access.room_role(session=session, actor=w.coordinator, consultation=c) == "moderator"
    )
    assert (
        await access.room_role(session=session, actor=w.specialist, consultation=c) == "participant"
    )
    assert await access.room_role(session=session, actor=w.doctor, consultation=c) == "participant"
    for actor in (w.outsider, w.other_doctor, w.admin):
        assert await access.room_role(session=session, actor=actor, consultation=c) is None
    found = await access.consultation_by_room(session=session, room_id=c.room_id)
    assert found is not None and found.id == c.id
    assert await access.consultation_by_room(session=session, room_id="nope") is None
    c.status = ConsultationStatus.ended
    assert await access.room_role(session=session, actor=chair, consultation=c) is None


async def test_room_role_from_the_roles_read_with_the_consultation(
    session: AsyncSession,
) -> None:
    w = await world(session)
    c = w.consultation
    # A second chair by invitation (role chair) besides the consultation's own chair_id.
    session.add(
        Participant(consultation_id=c.id, user_id=w.outsider.user_id, role=ParticipantRole.chair)
    )
    await session.commit()
    expected = {
        "coordinator": "moderator",
        "outsider": "moderator",
        "specialist": "participant",
        "doctor": "participant",
    }
    for name in ("coordinator", "outsider", "specialist", "doctor", "other_doctor", "admin"):
        actor = getattr(w, name)
        looked_up = await access.room_role(session=session, actor=actor, consultation=c)
        assert looked_up == expected.get(name), name
        try:
            found, invited = await access.require_consultation_with_roles(
                session=session, actor=actor, consultation_id=c.id
            )
        except NotFound:
            assert name not in expected, name
            continue
        assert found.id == c.id
        role = await access.room_role(
            session=session, actor=actor, consultation=found, invited=invited
        )
        assert role == looked_up, name
    # Roles read earlier are believed as given; the status still comes first.
    assert (
        await access.room_role(
            session=session, actor=w.other_doctor, consultation=c, invited=[ParticipantRole.chair]
        )
        == "moderator"
    )
    assert (
        await access.room_role(session=session, actor=w.other_doctor, consultation=c, invited=())
        is None
    )
    c.status = ConsultationStatus.cancelled
    assert (
        await access.room_role(
            session=session, actor=w.specialist, consultation=c, invited=[ParticipantRole.chair]
        )
        is None
    )


async def test_refused_room_entry_is_audited(session: AsyncSession) -> None:
    w = await world(session)
    role = await access.require_room_role(
        session=session, actor=w.specialist, consultation=w.consultation
    )
    assert role == "participant"
    with pytest.raises(NotFound):
        await access.require_room_role(
            session=session, actor=w.other_doctor, consultation=w.consultation
        )
    page = await audit_log.list_events(session=session, actor=Actor.system(), action="denied")
    assert page.total == 1
    event = page.items[0]
    assert event.actor_id == w.other_doctor.user_id
    assert event.object_id == str(w.consultation.id) and event.detail == {"need": "join"}
