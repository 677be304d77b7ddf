"""Minutes (biên bản hội chẩn): drafted by the chair, pre-filled, then final and immutable."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid, NotFound
from ..events import MinutesFinalised, announce
from ..messages import N_, msg
from ..models import (
    Attendance,
    Case,
    CaseStatus,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    Facility,
    Minutes,
    MinutesStatus,
    MinutesUpdate,
    Participant,
    Patient,
    User,
)
from ..models.base import utcnow
from .cases import apply_transition

FINAL_MESSAGE = N_("Biên bản đã hoàn tất, không thể sửa")


async def _attached_case(
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
) -> Case:
    link = await session.get(ConsultationCase, (consultation_id, case_id))
    if link is None:
        raise NotFound(msg("Hồ sơ không thuộc phiên hội chẩn này"))
    return await access.require_case(session=session, actor=actor, case_id=case_id)


async def attendees(session: AsyncSession, consultation_id: uuid.UUID) -> list[dict[str, Any]]:
    """Who was in the room (from attendance), else who was invited: name, facility, role."""
    roles = dict(
        (
            await session.execute(
                select(Participant.user_id, Participant.role).where(
                    Participant.consultation_id == consultation_id
                )
            )
        ).all()
    )
    present = (
        await session.execute(
            select(User, Facility.name)
            .join(Attendance, col(Attendance.user_id) == User.id)
            .join(Facility, col(Facility.id) == User.facility_id)
            .where(Attendance.consultation_id == consultation_id)
            .order_by(col(Attendance.joined_at))
        )
    ).all()
    if not present:
        present = (
            await session.execute(
                select(User, Facility.name)
                .join(Participant, col(Participant.user_id) == User.id)
                .join(Facility, col(Facility.id) == User.facility_id)
                .where(Participant.consultation_id == consultation_id)
                .order_by(col(Participant.invited_at))
            )
        ).all()
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for user, facility_name in present:
        out.setdefault(
            user.id,
            {
                "user_id": str(user.id),
                "name": user.display_name,
                "facility": facility_name,
                "role": str(roles.get(user.id, user.role)),
            },
        )
    return list(out.values())


async def _summary(session: AsyncSession, case: Case) -> str:
    patient = await session.get(Patient, case.patient_id)
    parts = []
    if patient is not None:
        born = patient.birth_year or (patient.birth_date.year if patient.birth_date else "")
        parts.append(f"Bệnh nhân: {patient.full_name}, năm sinh {born}")
    for label, text in (
        ("Bệnh sử, tiền sử", case.history),
        ("Khám lâm sàng", case.examination),
        ("Cận lâm sàng", case.results),
        ("Chẩn đoán sơ bộ", case.diagnosis),
        ("Điều trị đã thực hiện", case.treatment),
        ("Câu hỏi hội chẩn", case.question),
    ):
        if text.strip():
            parts.append(f"{label}: {text.strip()}")
    return "\n".join(parts)


async def _find(
    session: AsyncSession, consultation_id: uuid.UUID, case_id: uuid.UUID
) -> Minutes | None:
    return (
        await session.execute(
            select(Minutes).where(
                Minutes.consultation_id == consultation_id, Minutes.case_id == case_id
            )
        )
    ).scalar_one_or_none()


async def _prefilled(
    session: AsyncSession, actor: Actor, consultation: Consultation, case: Case
) -> Minutes:
    """A new draft pre-filled from attendance and the case file (not yet stored)."""
    if not await access.is_chair(session=session, actor=actor, consultation=consultation):
        raise NotFound(msg("Chưa có biên bản cho hồ sơ này"))
    return Minutes(
        consultation_id=consultation.id,
        case_id=case.id,
        attendees=await attendees(session, consultation.id),
        summary=await _summary(session, case),
        conclusion=case.diagnosis,
        icd10=case.icd10,
        author_id=actor.user_id,
    )


async def read_minutes(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    actor: Actor,
) -> Minutes:
    """The stored minutes about a case (read audited), or for the chair an unsaved draft.

    Reading never writes: the draft is stored by the chair's first save.
    """
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    case = await _attached_case(session, actor, consultation_id, case_id)
    minutes = await _find(session, consultation_id, case_id)
    if minutes is None:
        return await _prefilled(session, actor, consultation, case)
    return await get_minutes(session=session, minutes_id=minutes.id, actor=actor)


async def get_or_draft(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    actor: Actor,
) -> Minutes:
    """The minutes for a case; the chair gets a pre-filled draft stored when none exists yet."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    case = await _attached_case(session, actor, consultation_id, case_id)
    minutes = await _find(session, consultation_id, case_id)
    if minutes is not None:
        return minutes
    minutes = await _prefilled(session, actor, consultation, case)
    session.add(minutes)
    await audit.record(
        session,
        actor=actor,
        action="create",
        object_type="minutes",
        object_id=minutes.id,
        patient_id=case.patient_id,
    )
    await session.commit()
    return minutes


async def save_draft(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    data: MinutesUpdate,
    actor: Actor,
) -> Minutes:
    """Write the draft (chair only); final minutes are refused with Conflict."""
    data = MinutesUpdate.model_validate(data.model_dump(exclude_unset=True))
    await access.require_chair(session=session, actor=actor, consultation_id=consultation_id)
    minutes = await get_or_draft(
        session=session,
        consultation_id=consultation_id,
        case_id=case_id,
        actor=actor,
    )
    if minutes.status == MinutesStatus.final:
        raise Conflict(msg(FINAL_MESSAGE))
    changes = data.model_dump(exclude_unset=True)
    if changes.get("attendees") is None:
        changes.pop("attendees", None)
    for key, value in changes.items():
        setattr(minutes, key, value)
    minutes.author_id = minutes.author_id or actor.user_id
    minutes.updated_at = utcnow()
    session.add(minutes)
    case = await session.get(Case, case_id)
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="minutes",
        object_id=minutes.id,
        patient_id=case.patient_id if case else None,
        detail={"fields": sorted(changes)},
    )
    await session.commit()
    return minutes


async def finalize(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    actor: Actor,
) -> Minutes:
    """Make the minutes final (chair only): signed, dated, never to change again."""
    consultation = await access.require_chair(
        session=session, actor=actor, consultation_id=consultation_id
    )
    minutes = await get_or_draft(
        session=session,
        consultation_id=consultation_id,
        case_id=case_id,
        actor=actor,
    )
    if minutes.status == MinutesStatus.final:
        raise Conflict(msg(FINAL_MESSAGE))
    if not minutes.conclusion.strip():
        problem = msg("Cần ghi kết luận trước khi hoàn tất biên bản")
        raise Invalid(problem, fields={"conclusion": problem})
    if consultation.status in (ConsultationStatus.requested, ConsultationStatus.cancelled):
        raise Conflict(msg("Phiên hội chẩn chưa diễn ra, chưa thể hoàn tất biên bản"))
    minutes.status = MinutesStatus.final
    minutes.finalized_at = utcnow()
    minutes.finalized_by = actor.user_id
    minutes.updated_at = minutes.finalized_at
    session.add(minutes)
    case = await session.get(Case, case_id)
    if case is not None and case.status == CaseStatus.scheduled:
        await apply_transition(session, case=case, to=CaseStatus.discussed, actor=actor)
    await audit.record(
        session,
        actor=actor,
        action="status",
        object_type="minutes",
        object_id=minutes.id,
        patient_id=case.patient_id if case else None,
        detail={"to": "final"},
    )
    await session.commit()
    await announce_finalised(session, minutes=minutes, actor=actor)
    return minutes


async def announce_finalised(session: AsyncSession, *, minutes: Minutes, actor: Actor) -> None:
    """The one place finalising tells the rest (the requester and participants are notified);
    call it after the commit that made the minutes final."""
    await announce(
        session,
        MinutesFinalised(
            actor_id=actor.user_id,
            consultation_id=minutes.consultation_id,
            case_id=minutes.case_id,
        ),
    )


async def get_minutes(
    *,
    session: AsyncSession,
    minutes_id: uuid.UUID,
    actor: Actor,
) -> Minutes:
    """One set of minutes, if the actor may read its consultation and case; the read is audited."""
    minutes = await session.get(Minutes, minutes_id)
    if minutes is None:
        raise NotFound(msg("Không tìm thấy biên bản"))
    await access.require_consultation(
        session=session, actor=actor, consultation_id=minutes.consultation_id
    )
    case = await access.require_case(session=session, actor=actor, case_id=minutes.case_id)
    await audit.record_now(
        session,
        actor=actor,
        action="view",
        object_type="minutes",
        object_id=minutes.id,
        patient_id=case.patient_id,
    )
    return minutes


async def list_minutes(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    actor: Actor,
) -> list[Minutes]:
    """The minutes of a consultation for the cases the actor may read."""
    await access.require_consultation(session=session, actor=actor, consultation_id=consultation_id)
    rows = await session.execute(
        select(Minutes, Case.patient_id)
        .join(Case, col(Case.id) == Minutes.case_id)
        .where(
            Minutes.consultation_id == consultation_id,
            access.cases_filter(actor, utcnow()),
        )
        .order_by(col(Minutes.created_at))
    )
    found = list(rows.all())
    await audit.record_reads(
        session,
        actor=actor,
        reads=[audit.Read("minutes", m.id, patient_id) for m, patient_id in found],
        detail={"list": "minutes"},
    )
    return [m for m, _ in found]
