"""Minutes on the form: filled from the records, signed by chair and secretary with their
password, numbered per facility and year, immutable once final, amended as new versions."""

from __future__ import annotations

import asyncio
import uuid

import factories
import pytest
from minutestools import PASSWORD, Signing, filled, sign, signing_world
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from records import audit
from records.actor import Actor
from records.db import session_maker
from records.errors import Conflict, Forbidden, Invalid, NotFound, Throttled
from records.models import (
    AuditEvent,
    CaseStatus,
    FacilityLevel,
    Minutes,
    MinutesStatus,
    MinutesUpdate,
    Participant,
    ParticipantRole,
    Role,
)
from records.services import cases, minutes, minutes_signing


async def test_the_draft_is_filled_from_the_records(session: AsyncSession) -> None:
    w = await signing_world(session)
    draft = await minutes.get_or_draft(
        session=session, consultation_id=w.consultation.id, case_id=w.case.id, actor=w.chair
    )
    assert [a["user_id"] for a in draft.attendees] == [
        str(w.users[n].id) for n in ("chair", "guest", "specialist")
    ]
    assert [a["guest"] for a in draft.attendees] == [False, True, False]
    assert draft.attendees[0]["specialty"] == "Tim mạch"
    assert draft.connection_points == ["Bệnh viện Đa khoa tỉnh", "Trung tâm Y tế Chơn Thành"]
    assert draft.secretary_id == w.users["secretary"].id
    assert [c["question"] for c in draft.conclusions] == [
        "Có cần chụp mạch vành không?",
        "Chuyển tuyến lúc nào?",
    ]
    assert draft.place == "Bệnh viện Đa khoa tỉnh" and draft.reason == w.case.title
    block = draft.patient_block
    assert (block["ethnicity_name"], block["citizen_id"]) == ("Tày", "070170012345")
    assert (block["department"], block["bed"]) == ("Khoa Nội", "12")
    assert draft.findings.startswith(f"- {w.users['chair'].display_name} (Tim mạch,")
    assert draft.number is None


async def test_attendees_are_participants_named_by_the_records(session: AsyncSession) -> None:
    w = await signing_world(session)
    ids = dict(consultation_id=w.consultation.id, case_id=w.case.id)
    # A name sent along is not the name kept; a stranger cannot be listed at all.
    saved = await minutes.save_draft(
        session=session,
        actor=w.chair,
        data=MinutesUpdate.model_validate(
            {
                "attendees": [
                    {"user_id": str(w.users["specialist"].id), "name": "Giáo sư Bịa"},
                    {"user_id": str(w.users["guest"].id), "guest": True},
                ]
            }
        ),
        **ids,
    )
    assert [a["name"] for a in saved.attendees] == [
        w.users["specialist"].display_name,
        w.users["guest"].display_name,
    ]
    stranger = await factories.user(session, facility=w.host)
    for bad in (str(uuid.uuid4()), str(stranger.id)):
        with pytest.raises(Invalid) as refused:
            await minutes.save_draft(
                session=session,
                actor=w.chair,
                data=MinutesUpdate.model_validate({"attendees": [{"user_id": bad}]}),
                **ids,
            )
        assert "attendees.0.user_id" in refused.value.fields
    with pytest.raises(ValidationError):
        MinutesUpdate.model_validate(
            {"attendees": [{"user_id": str(w.users["specialist"].id)}] * 3000}
        )
    kept = await minutes.get_or_draft(session=session, actor=w.chair, **ids)
    assert len(kept.attendees) == 2


@pytest.mark.parametrize(
    "codes", [["I21"], ["i21.4", "I21.4", "E11.9"], "I21.4, E11.9", ["Z99.89"]]
)
def test_icd10_codes_are_checked_and_cleaned(codes: object) -> None:
    got = MinutesUpdate.model_validate({"icd10_codes": codes}).icd10_codes
    assert got and all(c == c.upper() for c in got) and len(set(got)) == len(got)


@pytest.mark.parametrize("codes", [["U07.1"], ["I2"], ["I21.45678"], ["21.4"], "I21.4;;X"])
def test_bad_icd10_codes_are_refused(codes: object) -> None:
    with pytest.raises(ValidationError):
        MinutesUpdate.model_validate({"icd10_codes": codes})


async def test_chair_and_secretary_sign_then_the_minutes_are_final(session: AsyncSession) -> None:
    w = await signing_world(session)
    ids = dict(consultation_id=w.consultation.id, case_id=w.case.id)
    await filled(session, w)
    # Others may not sign; a wrong password signs nothing and is audited as a failed login.
    for outsider in (w.specialist, w.guest, w.doctor):
        with pytest.raises((Forbidden, NotFound)):
            await sign(session, actor=outsider, **ids)
    with pytest.raises(Invalid) as refused:
        await sign(session, actor=w.secretary, password="sai-mat-khau", **ids)
    assert set(refused.value.fields) == {"password"}
    failed = await session.execute(select(AuditEvent).where(AuditEvent.action == "login-failed"))
    assert any(e.detail.get("via") == "minutes-sign" for e in failed.scalars().all())

    half = await sign(session, actor=w.secretary, **ids)
    assert half.status == MinutesStatus.draft and half.secretary_confirmed_at is not None
    # A change to the words withdraws the confirmation given to the old ones.
    changed = await minutes.save_draft(
        session=session, actor=w.chair, data=MinutesUpdate(treatment_plan="Khác"), **ids
    )
    assert changed.secretary_confirmed_at is None
    # Saving the same words again keeps it.
    await sign(session, actor=w.secretary, **ids)
    same = await minutes.save_draft(
        session=session, actor=w.chair, data=MinutesUpdate(treatment_plan="Khác"), **ids
    )
    assert same.secretary_confirmed_at is not None
    final = await sign(session, actor=w.chair, **ids)
    assert final.status == MinutesStatus.final
    assert final.number == "1/BB-HC" and final.number_year == final.finalized_at.year
    assert final.patient_block["insurance_number"] == "DN4797912345678"
    assert final.patient_block["ethnicity"] == "02"
    case = await cases.get_case(session=session, case_id=w.case.id, actor=w.doctor)
    assert case.status == CaseStatus.discussed
    signs = await session.execute(select(AuditEvent).where(AuditEvent.action == "sign"))
    assert sorted(e.detail["as"][0] for e in signs.scalars().all()) == [
        "chair",
        "secretary",
        "secretary",
    ]
    # Final minutes never change.
    with pytest.raises(Conflict):
        await minutes.save_draft(
            session=session, actor=w.chair, data=MinutesUpdate(conclusion="Khác"), **ids
        )
    with pytest.raises(Conflict):
        await sign(session, actor=w.secretary, **ids)
    assert (await audit.verify(session)).ok


async def test_an_answer_is_needed_for_every_question(session: AsyncSession) -> None:
    w = await signing_world(session)
    ids = dict(consultation_id=w.consultation.id, case_id=w.case.id)
    await minutes.save_draft(
        session=session, actor=w.chair, data=MinutesUpdate(conclusion="Chẩn đoán"), **ids
    )
    with pytest.raises(Invalid) as refused:
        await sign(session, actor=w.chair, **ids)
    assert "conclusions.0.answer" in refused.value.fields


async def test_without_a_secretary_the_chair_signs_for_both(session: AsyncSession) -> None:
    w = await signing_world(session)
    ids = dict(consultation_id=w.consultation.id, case_id=w.case.id)
    part = await session.execute(
        select(Participant).where(Participant.user_id == w.users["secretary"].id)
    )
    row = part.scalar_one()
    await session.delete(row)
    await session.commit()
    await filled(session, w)
    final = await sign(session, actor=w.chair, **ids)
    assert final.status == MinutesStatus.final
    assert final.secretary_id == w.users["chair"].id
    assert final.chair_confirmed_at == final.secretary_confirmed_at


async def test_an_amendment_is_a_new_linked_version(session: AsyncSession) -> None:
    w = await signing_world(session)
    ids = dict(consultation_id=w.consultation.id, case_id=w.case.id)
    await filled(session, w)
    with pytest.raises(Conflict):
        await minutes_signing.amend(session=session, actor=w.chair, **ids)
    await sign(session, actor=w.secretary, **ids)
    first = await sign(session, actor=w.chair, **ids)
    with pytest.raises((Forbidden, NotFound)):
        await minutes_signing.amend(session=session, actor=w.secretary, **ids)
    second = await minutes_signing.amend(session=session, actor=w.chair, **ids)
    assert (second.version, second.supersedes_id, second.status) == (
        2,
        first.id,
        MinutesStatus.draft,
    )
    assert second.conclusions == first.conclusions and second.number is None
    await minutes.save_draft(
        session=session, actor=w.chair, data=MinutesUpdate(treatment_plan="Điều chỉnh"), **ids
    )
    await sign(session, actor=w.chair, **ids)
    amended = await sign(session, actor=w.secretary, **ids)
    assert amended.number == "2/BB-HC" and amended.treatment_plan == "Điều chỉnh"
    untouched = await session.get(Minutes, first.id)
    assert untouched is not None and untouched.treatment_plan == "Chuyển tuyến trong 24 giờ"
    assert untouched.status == MinutesStatus.final and untouched.number == "1/BB-HC"
    read = await minutes.read_minutes(session=session, actor=w.doctor, **ids)
    assert read.id == amended.id
    listed = await minutes.list_minutes(
        session=session, consultation_id=w.consultation.id, actor=w.doctor
    )
    assert [m.version for m in listed] == [1, 2]


async def test_numbers_per_facility_and_year_under_concurrency(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    session_factory = session_maker(engine)
    host = await factories.facility(session, level=FacilityLevel.provincial)
    other = await factories.facility(session, level=FacilityLevel.provincial)

    async def take(facility_id: uuid.UUID, year: int) -> int:
        async with session_factory() as s:
            n = await minutes_signing.allocate_number(s, facility_id=facility_id, year=year)
            await s.commit()
            return n

    got = await asyncio.gather(*(take(host.id, 2030) for _ in range(12)))
    assert sorted(got) == list(range(1, 13))
    assert await take(other.id, 2030) == 1
    assert await take(host.id, 2031) == 1
    assert await take(host.id, 2030) == 13


async def test_signing_is_throttled(session: AsyncSession) -> None:
    w: Signing = await signing_world(session)
    ids = dict(consultation_id=w.consultation.id, case_id=w.case.id)
    await filled(session, w)
    with pytest.raises(Throttled):
        for _ in range(12):
            with pytest.raises(Invalid):
                await sign(session, actor=w.secretary, password="doan-mo", **ids)
    rows = await session.execute(select(AuditEvent).where(col(AuditEvent.action) == "login-failed"))
    assert len(rows.scalars().all()) >= 6
    # The right password waits its turn too: the throttle is not bypassed by signing.
    with pytest.raises(Throttled):
        await sign(session, actor=w.secretary, password=PASSWORD, **ids)


async def test_the_coordinator_names_the_secretary(session: AsyncSession) -> None:
    w = await signing_world(session)
    coordinator = Actor.of(await factories.user(session, facility=w.host, role=Role.coordinator))
    ids = dict(consultation_id=w.consultation.id)
    for refused in (w.chair, w.specialist, w.doctor):
        with pytest.raises((Forbidden, NotFound)):
            await minutes_signing.assign_secretary(
                session=session, user_id=w.users["specialist"].id, actor=refused, **ids
            )
    with pytest.raises(NotFound):
        await minutes_signing.assign_secretary(
            session=session, user_id=w.users["doctor"].id, actor=coordinator, **ids
        )
    await minutes_signing.assign_secretary(
        session=session, user_id=w.users["specialist"].id, actor=coordinator, **ids
    )
    roles = dict(
        (
            await session.execute(
                select(Participant.user_id, Participant.role).where(
                    Participant.consultation_id == w.consultation.id
                )
            )
        ).all()
    )
    # One secretary at a time: the one named before goes back to being a member.
    assert roles[w.users["specialist"].id] == ParticipantRole.secretary
    assert roles[w.users["secretary"].id] == ParticipantRole.specialist
    # Naming the chair leaves no secretary: the chair keeps the minutes.
    await minutes_signing.assign_secretary(
        session=session, user_id=w.users["chair"].id, actor=coordinator, **ids
    )
    draft = await minutes.get_or_draft(
        session=session, consultation_id=w.consultation.id, case_id=w.case.id, actor=w.chair
    )
    assert draft.secretary_id == w.users["chair"].id
