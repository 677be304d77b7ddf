"""Minutes in the records' tests: signers with a password, one consultation ready to sign."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import factories
from sqlalchemy.ext.asyncio import AsyncSession

from records import passwords
from records.actor import Actor
from records.models import (
    Case,
    CaseStatus,
    Consultation,
    Facility,
    FacilityLevel,
    Minutes,
    MinutesUpdate,
    ParticipantRole,
    Role,
    User,
)
from records.services import minutes, minutes_signing, room_events

PASSWORD = "Mat-khau-ky-bien-ban-2030"
T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
_HASH: list[str] = []


async def with_password(session: AsyncSession, user: User) -> User:
    """The user with the test password (hashed once per run: argon2 is slow on purpose)."""
    if not _HASH:
        _HASH.append(passwords.hash_password(PASSWORD))
    user.password_hash = _HASH[0]
    session.add(user)
    await session.commit()
    return user


async def sign(
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    actor: Actor,
    password: str = PASSWORD,
) -> Minutes:
    """Confirm the minutes as this person."""
    return await minutes_signing.confirm(
        session=session,
        consultation_id=consultation_id,
        case_id=case_id,
        actor=actor,
        password=password,
    )


@dataclass
class Signing:
    """A held consultation with a chair, a named secretary, a specialist, a guest and a case."""

    host: Facility
    district: Facility
    consultation: Consultation
    case: Case
    chair: Actor
    secretary: Actor
    specialist: Actor
    guest: Actor
    doctor: Actor
    users: dict[str, User]


async def signing_world(session: AsyncSession, *, host: Facility | None = None) -> Signing:
    """A consultation that took place, with a draft ready to be filled in."""
    host = host or await factories.facility(
        session, level=FacilityLevel.provincial, name="Bệnh viện Đa khoa tỉnh"
    )
    district = await factories.facility(session, parent=host, name="Trung tâm Y tế Chơn Thành")
    users = {
        "chair": await factories.user(
            session, facility=host, role=Role.specialist, title="TS.BS.", specialty="Tim mạch"
        ),
        "secretary": await factories.user(session, facility=host, role=Role.specialist),
        "specialist": await factories.user(
            session, facility=host, role=Role.specialist, specialty="Chẩn đoán hình ảnh"
        ),
        "guest": await factories.user(session, facility=district, role=Role.doctor),
        "doctor": await factories.user(session, facility=district),
    }
    for user in users.values():
        await with_password(session, user)
    patient = await factories.patient(
        session, facility=district, insurance_number="DN4797912345678"
    )
    patient.ethnicity, patient.citizen_id = "02", "070170012345"
    session.add(patient)
    case = await factories.case(session, patient=patient, author=users["doctor"])
    case.question = "1. Có cần chụp mạch vành không?\n2. Chuyển tuyến lúc nào?"
    case.department, case.bed = "Khoa Nội", "12"
    case.status = CaseStatus.scheduled
    session.add(case)
    await session.commit()
    c = await factories.consultation(
        session,
        host=host,
        requesting=district,
        cases=[case],
        chair=users["chair"],
        participants={
            users["secretary"].id: ParticipantRole.secretary,
            users["specialist"].id: ParticipantRole.specialist,
            users["guest"].id: ParticipantRole.observer,
        },
    )
    for n, name in enumerate(("chair", "guest", "specialist"), start=1):
        await room_events.record_join(
            session=session, room_id=c.room_id, user_id=users[name].id, peer_id=f"p{n}", at=T0
        )
    return Signing(
        host=host,
        district=district,
        consultation=c,
        case=case,
        chair=Actor.of(users["chair"]),
        secretary=Actor.of(users["secretary"]),
        specialist=Actor.of(users["specialist"]),
        guest=Actor.of(users["guest"]),
        doctor=Actor.of(users["doctor"]),
        users=users,
    )


async def filled(session: AsyncSession, w: Signing) -> Minutes:
    """The chair's draft with every question answered and a diagnosis."""
    draft = await minutes.get_or_draft(
        session=session, consultation_id=w.consultation.id, case_id=w.case.id, actor=w.chair
    )
    return await minutes.save_draft(
        session=session,
        consultation_id=w.consultation.id,
        case_id=w.case.id,
        actor=w.chair,
        data=MinutesUpdate(
            conclusion="Hội chứng vành cấp không ST chênh lên",
            icd10_codes=["I21.4", "I10"],
            conclusions=[
                {"question": c["question"], "answer": f"Trả lời {i}"}
                for i, c in enumerate(draft.conclusions, start=1)
            ],
            treatment_plan="Chuyển tuyến trong 24 giờ",
        ),
    )
