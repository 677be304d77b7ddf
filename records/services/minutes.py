"""Minutes (biên bản hội chẩn): drafted by the chair, pre-filled, then final and immutable."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, NotFound
from ..events import MinutesFinalised, announce
from ..messages import N_, msg
from ..models import (
    Case,
    Consultation,
    ConsultationCase,
    Facility,
    Minutes,
    MinutesStatus,
    MinutesUpdate,
)
from ..models.base import utcnow
from . import minutes_form as form

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


async def _find(
    session: AsyncSession, consultation_id: uuid.UUID, case_id: uuid.UUID
) -> Minutes | None:
    """The latest version of the minutes about a case."""
    return (
        (
            await session.execute(
                select(Minutes)
                .where(Minutes.consultation_id == consultation_id, Minutes.case_id == case_id)
                .order_by(col(Minutes.version).desc())
                .limit(1)
            )
        )
        .scalars()
        .first()
    )


async def from_the_call(
    session: AsyncSession, minutes: Minutes, consultation: Consultation
) -> None:
    """What the room's events say: times, connection points, the secretary (not editable)."""
    minutes.started_at, minutes.ended_at = await form.call_times(session, consultation)
    minutes.connection_points = await form.connection_points(session, consultation)
    minutes.secretary_id = await form.secretary_id(session, consultation)


async def _prefilled(
    session: AsyncSession, actor: Actor, consultation: Consultation, case: Case
) -> Minutes:
    """A new draft pre-filled from attendance and the case file (not yet stored)."""
    if not await access.is_chair(session=session, actor=actor, consultation=consultation):
        raise NotFound(msg("Chưa có biên bản cho hồ sơ này"))
    host = await session.get(Facility, consultation.host_facility_id)
    present = await form.attendees(session, consultation)
    minutes = Minutes(
        consultation_id=consultation.id,
        case_id=case.id,
        facility_id=consultation.host_facility_id,
        place=host.name if host is not None else "",
        reason=case.title,
        attendees=present,
        summary=form.summary(case),
        findings=form.discussion(present),
        conclusions=[{"question": q, "answer": ""} for q in form.questions(case)],
        conclusion=case.diagnosis,
        icd10=case.icd10,
        icd10_codes=[case.icd10] if case.icd10 else [],
        patient_block=await form.patient_block(session, case),
        author_id=actor.user_id,
    )
    await from_the_call(session, minutes, consultation)
    return minutes


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


def _content(minutes: Minutes) -> dict[str, Any]:
    """What a signer confirms: every field of the form."""
    return minutes.model_dump(
        mode="json",
        exclude={"updated_at", "chair_confirmed_at", "secretary_confirmed_at", "author_id"},
        warnings=False,
    )


async def save_draft(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    data: MinutesUpdate,
    actor: Actor,
) -> Minutes:
    """Write the draft (chair only); final minutes are refused with Conflict.

    Who attended must be participants (names filled in here); a change to the text withdraws
    confirmations already given, since they confirmed other words.
    """
    data = MinutesUpdate.model_validate(data.model_dump(exclude_unset=True))
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
    changes = data.model_dump(exclude_unset=True)
    if data.attendees is not None:
        changes["attendees"] = await form.resolve_attendees(session, consultation, data.attendees)
    else:
        changes.pop("attendees", None)
    if data.conclusions is not None:
        changes["conclusions"] = [c.model_dump() for c in data.conclusions]
    else:
        changes.pop("conclusions", None)
    if data.icd10_codes is not None:
        changes["icd10"] = data.icd10_codes[0] if data.icd10_codes else None
    elif "icd10" in changes:
        changes["icd10_codes"] = [changes["icd10"]] if changes["icd10"] else []
    before = _content(minutes)
    for key, value in changes.items():
        setattr(minutes, key, value)
    await from_the_call(session, minutes, consultation)
    if _content(minutes) != before:
        minutes.chair_confirmed_at = minutes.secretary_confirmed_at = None
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
