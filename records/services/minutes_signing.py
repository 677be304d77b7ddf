"""Signing the minutes: the chair and the secretary confirm with their password, the minutes
get their register number and become final; an amendment is a new, linked version."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid, NotFound, Unauthenticated
from ..messages import N_, msg
from ..models import (
    Case,
    CaseStatus,
    Consultation,
    ConsultationStatus,
    Minutes,
    MinutesCounter,
    MinutesStatus,
    Participant,
    ParticipantRole,
)
from ..models.base import utcnow
from . import minutes_form as form
from .cases import apply_transition
from .login_throttle import check_password
from .minutes import FINAL_MESSAGE, announce_finalised, from_the_call

WRONG_PASSWORD = N_("Mật khẩu không đúng")
NOT_A_SIGNER = N_("Chỉ chủ tọa và thư ký được xác nhận biên bản")


async def allocate_number(session: AsyncSession, *, facility_id: uuid.UUID, year: int) -> int:
    """The next register number of a facility in a year, taken inside the caller's transaction.

    The counter row is updated in place (a row lock on PostgreSQL, the write lock on SQLite),
    so two finalisations at once get two numbers; the first of a year inserts the row, and a
    concurrent first insert loses on the primary key and increments instead.
    """
    t = MinutesCounter.__table__  # type: ignore[attr-defined]
    bump = (
        sa.update(t)
        .where(t.c.facility_id == facility_id, t.c.year == year)
        .values(last=t.c.last + 1)
        .returning(t.c.last)
    )
    number = (await session.execute(bump)).scalar_one_or_none()
    if number is not None:
        return int(number)
    try:
        async with session.begin_nested():
            await session.execute(sa.insert(t).values(facility_id=facility_id, year=year, last=1))
        return 1
    except IntegrityError:
        return int((await session.execute(bump)).scalar_one())


async def _latest(session: AsyncSession, consultation_id: uuid.UUID, case_id: uuid.UUID) -> Minutes:
    found = (
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
    if found is None:
        raise NotFound(msg("Chưa có biên bản cho hồ sơ này"))
    return found


def _ready(minutes: Minutes, consultation: Consultation) -> None:
    """What must hold before anyone is asked to sign."""
    if minutes.status == MinutesStatus.final:
        raise Conflict(msg(FINAL_MESSAGE))
    if consultation.status in (ConsultationStatus.requested, ConsultationStatus.cancelled):
        raise Conflict(msg("Phiên hội chẩn chưa diễn ra, chưa thể hoàn tất biên bản"))
    if not minutes.conclusion.strip():
        problem = msg("Cần ghi kết luận trước khi hoàn tất biên bản")
        raise Invalid(problem, fields={"conclusion": problem})
    for i, item in enumerate(minutes.conclusions):
        if not str(item.get("answer", "")).strip():
            problem = msg("Mỗi câu hỏi cần có kết luận trả lời")
            raise Invalid(problem, fields={f"conclusions.{i}.answer": problem})


async def confirm(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    actor: Actor,
    password: str,
) -> Minutes:
    """The chair or the secretary confirms the draft with their password (throttled, audited).

    When both have confirmed (one person when the chair is also secretary), the minutes are
    numbered and become final, and the participants are told.
    """
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    await access.require_case(session=session, actor=actor, case_id=case_id)
    minutes = await _latest(session, consultation_id, case_id)
    is_chair = await access.is_chair(session=session, actor=actor, consultation=consultation)
    secretary = await form.secretary_id(session, consultation)
    is_secretary = actor.user_id is not None and actor.user_id == secretary
    if not (is_chair or is_secretary) or actor.is_system:
        raise await access.deny(
            session,
            actor=actor,
            object_type="minutes",
            object_id=minutes.id,
            need="sign",
            forbidden=msg(NOT_A_SIGNER),
        )
    _ready(minutes, consultation)
    try:
        await check_password(
            session=session,
            username=actor.username,
            password=password,
            client_addr=actor.client_addr,
            purpose="minutes-sign",
        )
    except Unauthenticated:
        await session.commit()
        problem = msg(WRONG_PASSWORD)
        raise Invalid(problem, fields={"password": problem}) from None
    minutes = await _latest(session, consultation_id, case_id)
    _ready(minutes, consultation)
    now = utcnow()
    if is_chair:
        minutes.chair_confirmed_at = now
    if is_secretary:
        minutes.secretary_confirmed_at = now
    session.add(minutes)
    case = await session.get(Case, case_id)
    await audit.record(
        session,
        actor=actor,
        action="sign",
        object_type="minutes",
        object_id=minutes.id,
        patient_id=case.patient_id if case else None,
        detail={"as": [r for r, yes in (("chair", is_chair), ("secretary", is_secretary)) if yes]},
    )
    final = minutes.chair_confirmed_at is not None and minutes.secretary_confirmed_at is not None
    if final:
        await _make_final(session, minutes, consultation, case, actor)
    await session.commit()
    if final:
        await announce_finalised(session, minutes=minutes, actor=actor)
    return minutes


async def _make_final(
    session: AsyncSession,
    minutes: Minutes,
    consultation: Consultation,
    case: Case | None,
    actor: Actor,
) -> None:
    """Number, freeze what the records said, mark final (uncommitted)."""
    await from_the_call(session, minutes, consultation)
    if case is not None:
        minutes.patient_block = await form.patient_block(session, case)
    now = utcnow()
    minutes.facility_id = consultation.host_facility_id
    minutes.number_year = now.year
    minutes.number_seq = await allocate_number(
        session, facility_id=consultation.host_facility_id, year=now.year
    )
    minutes.status = MinutesStatus.final
    minutes.finalized_at = now
    minutes.finalized_by = consultation.chair_id or actor.user_id
    minutes.updated_at = now
    session.add(minutes)
    if case is not None and case.status == CaseStatus.scheduled:
        await apply_transition(session, case=case, to=CaseStatus.discussed, actor=actor)
    await audit.record(
        session,
        actor=actor,
        action="status",
        object_type="minutes",
        object_id=minutes.id,
        patient_id=case.patient_id if case else None,
        detail={"to": "final", "number": minutes.number, "version": minutes.version},
    )


async def amend(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    case_id: uuid.UUID,
    actor: Actor,
) -> Minutes:
    """Start an amendment (chair only): a new draft version linked to the final one it replaces.

    The final minutes stay as they are; the amendment is signed and numbered like the first.
    """
    await access.require_chair(session=session, actor=actor, consultation_id=consultation_id)
    current = await _latest(session, consultation_id, case_id)
    if current.status != MinutesStatus.final:
        raise Conflict(msg("Biên bản chưa hoàn tất; hãy sửa bản nháp"))
    keep = (
        "place reason summary findings conclusion icd10 treatment_plan attendees "
        "conclusions icd10_codes"
    ).split()
    amendment = Minutes(
        consultation_id=consultation_id,
        case_id=case_id,
        version=current.version + 1,
        supersedes_id=current.id,
        facility_id=current.facility_id,
        author_id=actor.user_id,
        **{name: getattr(current, name) for name in keep},
    )
    consultation = await session.get(Consultation, consultation_id)
    if consultation is not None:
        await from_the_call(session, amendment, consultation)
    case = await session.get(Case, case_id)
    if case is not None:
        amendment.patient_block = await form.patient_block(session, case)
    session.add(amendment)
    await audit.record(
        session,
        actor=actor,
        action="create",
        object_type="minutes",
        object_id=amendment.id,
        patient_id=case.patient_id if case else None,
        detail={"amends": str(current.id), "version": amendment.version},
    )
    await session.commit()
    return amendment


async def assign_secretary(
    *, session: AsyncSession, consultation_id: uuid.UUID, user_id: uuid.UUID, actor: Actor
) -> None:
    """Name the secretary among the invited (coordinators of the host); naming the chair
    makes the chair act as secretary. One secretary at a time."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id, manage=True
    )
    rows = (
        (
            await session.execute(
                select(Participant).where(Participant.consultation_id == consultation.id)
            )
        )
        .scalars()
        .all()
    )
    chosen = next((p for p in rows if p.user_id == user_id), None)
    if chosen is None and user_id != consultation.chair_id:
        raise NotFound(msg("Người này không có trong danh sách mời"))
    if chosen is not None and chosen.role in (ParticipantRole.chair, ParticipantRole.presenter):
        if user_id != consultation.chair_id:
            raise Conflict(msg("Người trình bày ca bệnh không làm thư ký"))
    for p in rows:
        if p.role == ParticipantRole.secretary and p.user_id != user_id:
            p.role = ParticipantRole.specialist
            session.add(p)
    if chosen is not None and user_id != consultation.chair_id:
        chosen.role = ParticipantRole.secretary
        session.add(chosen)
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="consultation",
        object_id=consultation.id,
        detail={"secretary": str(user_id)},
    )
    await session.commit()
