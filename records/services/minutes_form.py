"""What the minutes' form is filled with: people, connection points, times, the patient block,
the case's questions, all read from the records (the chair edits text, never who was there)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import identity
from ..errors import Invalid
from ..messages import msg
from ..models import (
    Attendance,
    AttendeeChoice,
    Case,
    Consultation,
    Facility,
    Participant,
    ParticipantRole,
    Patient,
    User,
)
from . import attendance

# Guests (khách mời) are those invited to listen; everyone else sits as a member.
GUEST_ROLES = frozenset({ParticipantRole.observer})
_BULLET = re.compile(r"^\s*(?:[-*•–]|\d+[.)])\s*")


def _person(user: User, facility: str, role: str) -> dict[str, Any]:
    return {
        "user_id": str(user.id),
        "name": user.display_name,
        "title": user.title,
        "full_name": user.full_name,
        "specialty": user.specialty or "",
        "facility": facility,
        "role": role,
        "guest": role in GUEST_ROLES,
    }


async def _roles(session: AsyncSession, consultation: Consultation) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(Participant.user_id, Participant.role).where(
            Participant.consultation_id == consultation.id
        )
    )
    roles = {uid: str(role) for uid, role in rows.all()}
    if consultation.chair_id is not None:
        roles[consultation.chair_id] = str(ParticipantRole.chair)
    # Someone the room admitted without an invitation (the host's coordinator) was there too.
    for present in await attendance.attendance(session, consultation):
        roles.setdefault(present.user_id, str(present.role))
    return roles


async def people(session: AsyncSession, consultation: Consultation) -> list[dict[str, Any]]:
    """Everyone who may be listed in the minutes: the chair and the invited, as the records say."""
    roles = await _roles(session, consultation)
    if not roles:
        return []
    rows = await session.execute(
        select(User, Facility.name)
        .join(Facility, col(Facility.id) == User.facility_id)
        .where(col(User.id).in_(list(roles)))
    )
    found = {user.id: _person(user, name, roles[user.id]) for user, name in rows.all()}
    order = {str(ParticipantRole.chair): 0, str(ParticipantRole.secretary): 1}
    return sorted(found.values(), key=lambda p: (order.get(p["role"], 2), p["name"]))


async def present_ids(session: AsyncSession, consultation_id: uuid.UUID) -> list[uuid.UUID]:
    """Who was in the room, in the order they first joined."""
    rows = await session.execute(
        select(Attendance.user_id)
        .where(Attendance.consultation_id == consultation_id)
        .order_by(col(Attendance.joined_at))
    )
    return list(dict.fromkeys(rows.scalars().all()))


async def attendees(session: AsyncSession, consultation: Consultation) -> list[dict[str, Any]]:
    """Who was in the room (from attendance, with every interval they were present), else
    everyone invited: the draft's first list."""
    everyone = {p["user_id"]: p for p in await people(session, consultation)}
    chosen = [
        {
            **everyone[str(a.user_id)],
            "intervals": [
                [i.joined_at.isoformat(), i.left_at.isoformat() if i.left_at else None]
                for i in a.intervals
            ],
        }
        for a in await attendance.attendance(session, consultation)
        if str(a.user_id) in everyone
    ]
    return chosen or list(everyone.values())


async def resolve_attendees(
    session: AsyncSession, consultation: Consultation, choices: Sequence[AttendeeChoice]
) -> list[dict[str, Any]]:
    """The chair's choice of who attended, with names from the records; only participants."""
    everyone = {p["user_id"]: p for p in await people(session, consultation)}
    out: dict[str, dict[str, Any]] = {}
    for i, choice in enumerate(choices):
        person = everyone.get(str(choice.user_id))
        if person is None:
            problem = msg("Chỉ ghi được người tham gia phiên hội chẩn này")
            raise Invalid(problem, fields={f"attendees.{i}.user_id": problem})
        out.setdefault(person["user_id"], {**person, "guest": choice.guest})
    return list(out.values())


async def connection_points(session: AsyncSession, consultation: Consultation) -> list[str]:
    """The facilities connected to the call, in the order they joined; else the two ends."""
    present = await present_ids(session, consultation.id)
    names: list[str] = []
    if present:
        rows = await session.execute(
            select(User.id, Facility.name)
            .join(Facility, col(Facility.id) == User.facility_id)
            .where(col(User.id).in_(present))
        )
        by_user = dict(rows.all())
        names = [by_user[u] for u in present if u in by_user]
    if not names:
        for fid in (consultation.host_facility_id, consultation.requesting_facility_id):
            facility = await session.get(Facility, fid)
            if facility is not None:
                names.append(facility.name)
    return list(dict.fromkeys(names))


async def call_times(
    session: AsyncSession, consultation: Consultation
) -> tuple[datetime | None, datetime | None]:
    """When the call started and ended, from the room's events (else from attendance)."""
    start, end = consultation.started_at, consultation.ended_at
    if start is None or end is None:
        rows = (
            await session.execute(
                select(Attendance.joined_at, Attendance.left_at).where(
                    Attendance.consultation_id == consultation.id
                )
            )
        ).all()
        joins = [j for j, _ in rows if j is not None]
        leaves = [left for _, left in rows if left is not None]
        start = start or (min(joins) if joins else None)
        end = end or (max(leaves) if leaves and len(leaves) == len(rows) else None)
    return start, end


async def secretary_id(session: AsyncSession, consultation: Consultation) -> uuid.UUID | None:
    """The secretary the coordinator named; without one, the chair acts as secretary."""
    # The page keeps one; invitations through the API may name several: the first invited.
    found = (
        (
            await session.execute(
                select(Participant.user_id)
                .where(
                    Participant.consultation_id == consultation.id,
                    Participant.role == ParticipantRole.secretary,
                )
                .order_by(col(Participant.invited_at))
                .limit(1)
            )
        )
        .scalars()
        .first()
    )
    return found or consultation.chair_id


def questions(case: Case) -> list[str]:
    """The case's questions as a list: one per line, bullets and numbers dropped."""
    out = []
    for line in case.question.splitlines():
        text = _BULLET.sub("", line).strip()
        if text:
            out.append(text)
    return out


async def patient_block(session: AsyncSession, case: Case) -> dict[str, Any]:
    """The patient as the form's block shows them, with the case's department and bed."""
    patient = await session.get(Patient, case.patient_id)
    if patient is None:
        return {}
    return {
        "full_name": patient.full_name,
        "mrn": patient.mrn,
        "sex": str(patient.sex),
        "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
        "birth_year": patient.birth_year,
        "ethnicity": patient.ethnicity,
        "ethnicity_name": identity.ethnicity_name(patient.ethnicity),
        "occupation": patient.occupation,
        "citizen_id": patient.citizen_id,
        "insurance_number": patient.insurance_number,
        "address": patient.address,
        "department": case.department,
        "bed": case.bed,
    }


def summary(case: Case) -> str:
    """History, course, results and treatment so far, from the case file."""
    parts = []
    for label, text in (
        ("Bệnh sử, tiền sử", case.history),
        ("Khám lâm sàng", case.examination),
        ("Cận lâm sàng", case.results),
        ("Chẩn đoán sơ bộ", case.diagnosis),
        ("Điều trị đã thực hiện", case.treatment),
    ):
        if text.strip():
            parts.append(f"{label}: {text.strip()}")
    return "\n".join(parts)


def discussion(attendees: Sequence[dict[str, Any]]) -> str:
    """One line per member for their opinion, to be completed by the chair."""
    lines = []
    for person in attendees:
        if person.get("guest"):
            continue
        unit = ", ".join(x for x in (person.get("specialty"), person.get("facility")) if x)
        lines.append(f"- {person.get('name', '')}{f' ({unit})' if unit else ''}: ")
    return "\n".join(lines)
