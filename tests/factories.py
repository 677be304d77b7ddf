"""Test data factories: each adds one valid record, commits it and returns it (keyword-only)."""

from __future__ import annotations

import itertools
import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from records.models import (
    Case,
    CaseStatus,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    Facility,
    FacilityLevel,
    Participant,
    ParticipantRole,
    Patient,
    Role,
    Sex,
    User,
)
from records.text import fold

_n = itertools.count(1)


async def facility(
    session: AsyncSession,
    *,
    level: FacilityLevel = FacilityLevel.district,
    name: str | None = None,
    code: str | None = None,
    parent: Facility | None = None,
) -> Facility:
    """A facility at the given level."""
    i = next(_n)
    f = Facility(
        code=code or f"F{i:04d}",
        name=name or f"Trung tâm Y tế {i}",
        level=level,
        parent_id=parent.id if parent else None,
    )
    session.add(f)
    await session.commit()
    return f


async def user(
    session: AsyncSession,
    *,
    facility: Facility,
    role: Role = Role.doctor,
    full_name: str | None = None,
    username: str | None = None,
    title: str = "BS.",
    specialty: str | None = None,
) -> User:
    """A user of a facility (no password)."""
    i = next(_n)
    u = User(
        username=username or f"user{i}",
        full_name=full_name or f"Nguyễn Văn {i}",
        title=title,
        role=role,
        specialty=specialty,
        facility_id=facility.id,
    )
    session.add(u)
    await session.commit()
    return u


async def patient(
    session: AsyncSession,
    *,
    facility: Facility,
    full_name: str = "Trần Thị Bình",
    mrn: str | None = None,
    sex: Sex = Sex.female,
    birth_year: int = 1970,
    birth_date: date | None = None,
    insurance_number: str | None = None,
) -> Patient:
    """A patient of a facility."""
    i = next(_n)
    p = Patient(
        mrn=mrn or f"BN{i:06d}",
        full_name=full_name,
        name_folded=fold(full_name),
        sex=sex,
        birth_year=birth_year,
        birth_date=birth_date,
        insurance_number=insurance_number,
        facility_id=facility.id,
    )
    session.add(p)
    await session.commit()
    return p


async def case(
    session: AsyncSession,
    *,
    patient: Patient,
    author: User,
    title: str = "Đau ngực không rõ nguyên nhân",
    specialty: str = "Tim mạch",
    status: str = "draft",
) -> Case:
    """A case file of a patient, in its patient's facility."""
    c = Case(
        title=title,
        specialty=specialty,
        patient_id=patient.id,
        facility_id=patient.facility_id,
        author_id=author.id,
        status=CaseStatus(status),
    )
    session.add(c)
    await session.commit()
    return c


async def consultation(
    session: AsyncSession,
    *,
    host: Facility,
    requesting: Facility,
    cases: list[Case] | None = None,
    participants: dict[uuid.UUID, ParticipantRole] | None = None,
    chair: User | None = None,
    status: ConsultationStatus = ConsultationStatus.scheduled,
    title: str = "Hội chẩn tim mạch",
) -> Consultation:
    """A consultation between two facilities with cases and participants (user id → role)."""
    c = Consultation(
        title=title,
        host_facility_id=host.id,
        requesting_facility_id=requesting.id,
        chair_id=chair.id if chair else None,
        status=status,
    )
    session.add(c)
    await session.flush()
    for k in cases or []:
        session.add(ConsultationCase(consultation_id=c.id, case_id=k.id))
    parts = dict(participants or {})
    if chair is not None:
        parts.setdefault(chair.id, ParticipantRole.chair)
    for uid, role in parts.items():
        session.add(Participant(consultation_id=c.id, user_id=uid, role=role))
    await session.commit()
    return c
