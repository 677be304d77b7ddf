"""Reopening a session ended by mistake: who may, within which time, what it undoes, what it
refuses, and what the audit keeps."""

from __future__ import annotations

from datetime import timedelta

import factories
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from records.actor import Actor
from records.errors import Conflict, Forbidden
from records.models import (
    AuditEvent,
    CaseStatus,
    Consultation,
    ConsultationStatus,
    FacilityLevel,
    Minutes,
    MinutesStatus,
    ParticipantRole,
    Role,
)
from records.models.base import utcnow
from records.services import reopening


async def ended_session(session: AsyncSession, *, ends_in: timedelta = timedelta(minutes=30)):  # type: ignore[no-untyped-def]
    """A session that was live and was ended, its case discussed, scheduled to end `ends_in`."""
    prov = await factories.facility(session, level=FacilityLevel.provincial)
    dist = await factories.facility(session, parent=prov)
    doctor = await factories.user(session, facility=dist)
    coordinator = await factories.user(session, facility=prov, role=Role.coordinator)
    chair = await factories.user(session, facility=prov, role=Role.specialist)
    specialist = await factories.user(session, facility=prov, role=Role.specialist)
    patient = await factories.patient(session, facility=dist)
    case = await factories.case(session, patient=patient, author=doctor, status="discussed")
    c = await factories.consultation(
        session,
        host=prov,
        requesting=dist,
        cases=[case],
        chair=chair,
        participants={specialist.id: ParticipantRole.specialist},
        status=ConsultationStatus.ended,
    )
    now = utcnow()
    c.scheduled_start = now - timedelta(minutes=30)
    c.scheduled_end = now + ends_in
    c.started_at = c.scheduled_start
    c.ended_at = now - timedelta(minutes=1)
    session.add(c)
    await session.commit()
    return c, case, Actor.of(chair), Actor.of(coordinator), Actor.of(specialist)


async def test_the_chair_reopens_and_it_is_undone_and_audited(session: AsyncSession) -> None:
    c, case, chair, _, _ = await ended_session(session)
    reopened = await reopening.reopen(session=session, consultation_id=c.id, actor=chair)
    assert reopened.status == ConsultationStatus.live and reopened.ended_at is None
    await session.refresh(case)
    assert case.status == CaseStatus.scheduled
    events = (
        (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.object_id == str(c.id), AuditEvent.action == "status"
                )
            )
        )
        .scalars()
        .all()
    )
    assert [e.detail for e in events][-1] == {"from": "ended", "to": "live", "reopened": True}
    assert events[-1].actor_id == chair.user_id
    # Once live, there is nothing to reopen.
    with pytest.raises(Conflict):
        await reopening.reopen(session=session, consultation_id=c.id, actor=chair)


async def test_the_host_coordinator_may_too_but_not_a_specialist(session: AsyncSession) -> None:
    c, _, _, coordinator, specialist = await ended_session(session)
    with pytest.raises(Forbidden):
        await reopening.reopen(session=session, consultation_id=c.id, actor=specialist)
    assert (await session.get(Consultation, c.id)).status == ConsultationStatus.ended  # type: ignore[union-attr]
    reopened = await reopening.reopen(session=session, consultation_id=c.id, actor=coordinator)
    assert reopened.status == ConsultationStatus.live


async def test_not_after_its_scheduled_time(session: AsyncSession) -> None:
    c, case, chair, _, _ = await ended_session(session, ends_in=-timedelta(minutes=1))
    assert not reopening.reopenable(c, utcnow())
    with pytest.raises(Conflict) as refused:
        await reopening.reopen(session=session, consultation_id=c.id, actor=chair)
    assert "quá giờ" in str(refused.value)
    await session.refresh(c)
    await session.refresh(case)
    assert c.status == ConsultationStatus.ended and case.status == CaseStatus.discussed


async def test_not_once_its_minutes_are_final(session: AsyncSession) -> None:
    c, case, chair, _, _ = await ended_session(session)
    session.add(Minutes(consultation_id=c.id, case_id=case.id, status=MinutesStatus.final))
    await session.commit()
    with pytest.raises(Conflict):
        await reopening.reopen(session=session, consultation_id=c.id, actor=chair)
    await session.refresh(c)
    assert c.status == ConsultationStatus.ended
