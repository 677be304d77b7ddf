"""Consultation sessions: the request, the status machine, cancel, live and end, and reading.

Scheduling (time, chair, invitees, conflicts) is ``schedules``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Forbidden, Invalid
from ..events import ConsultationCancelled, ConsultationRequested, announce
from ..messages import msg
from ..models import (
    CONSULTATION_TRANSITIONS,
    Case,
    CaseStatus,
    Consultation,
    ConsultationCase,
    ConsultationPublic,
    ConsultationRequest,
    ConsultationStatus,
    Facility,
    FacilityLevel,
    Participant,
    ParticipantPublic,
    ParticipantRole,
)
from ..models.base import utcnow
from ..vocabulary import label
from . import Page, clamp_page
from .cases import apply_transition

OPEN = (ConsultationStatus.requested, ConsultationStatus.scheduled, ConsultationStatus.live)
BUSY = (ConsultationStatus.scheduled, ConsultationStatus.live)


async def case_ids(session: AsyncSession, consultation_id: uuid.UUID) -> list[uuid.UUID]:
    """The cases a consultation discusses."""
    rows = await session.execute(
        select(ConsultationCase.case_id).where(ConsultationCase.consultation_id == consultation_id)
    )
    return list(rows.scalars().all())


async def participant_ids(session: AsyncSession, consultation_id: uuid.UUID) -> list[uuid.UUID]:
    """Everyone invited to a consultation (its chair included), in the order of invitation."""
    rows = await session.execute(
        select(Participant.user_id)
        .where(Participant.consultation_id == consultation_id)
        .order_by(col(Participant.invited_at))
    )
    return list(rows.scalars().all())


async def cases_of(session: AsyncSession, consultation_id: uuid.UUID) -> list[Case]:
    """The case files a consultation discusses."""
    rows = await session.execute(
        select(Case)
        .join(ConsultationCase, col(ConsultationCase.case_id) == Case.id)
        .where(ConsultationCase.consultation_id == consultation_id)
    )
    return list(rows.scalars().all())


async def set_status(
    session: AsyncSession, *, consultation: Consultation, to: ConsultationStatus, actor: Actor
) -> None:
    """Move a consultation along CONSULTATION_TRANSITIONS (no commit); else Conflict."""
    current = ConsultationStatus(consultation.status)
    if to not in CONSULTATION_TRANSITIONS[current]:
        raise Conflict(
            msg(
                "Không thể chuyển phiên hội chẩn từ «%(current)s» sang «%(to)s»",
                current=label(current),
                to=label(to),
            )
        )
    consultation.status = to
    consultation.updated_at = utcnow()
    session.add(consultation)
    await audit.record(
        session,
        actor=actor,
        action="status",
        object_type="consultation",
        object_id=consultation.id,
        detail={"from": current, "to": to},
    )


async def request_consultation(
    *, session: AsyncSession, data: ConsultationRequest, actor: Actor
) -> Consultation:
    """A doctor asks a higher-level facility to discuss cases of their own facility."""
    data = ConsultationRequest.model_validate(data.model_dump())
    if not access.can_request_consultations(actor):
        raise Forbidden(msg("Chỉ bác sĩ được gửi yêu cầu hội chẩn"))
    cases = [
        await access.require_case(session=session, actor=actor, case_id=cid, write=True)
        for cid in dict.fromkeys(data.case_ids)
    ]
    facilities = {c.facility_id for c in cases}
    if len(facilities) != 1:
        raise Invalid(
            msg("Các hồ sơ phải thuộc cùng một cơ sở"), fields={"case_ids": msg("Khác cơ sở")}
        )
    requesting = await session.get(Facility, facilities.pop())
    host = await session.get(Facility, data.host_facility_id)
    if host is None or requesting is None:
        raise Invalid(
            msg("Cơ sở nhận không tồn tại"), fields={"host_facility_id": msg("Không tồn tại")}
        )
    if FacilityLevel(host.level).rank <= FacilityLevel(requesting.level).rank:
        problem = msg("Chỉ gửi yêu cầu hội chẩn lên cơ sở tuyến trên")
        raise Invalid(problem, fields={"host_facility_id": problem})
    for case in cases:
        if case.status not in (CaseStatus.draft, CaseStatus.submitted):
            raise Conflict(
                msg("Hồ sơ «%(title)s» không ở trạng thái chờ hội chẩn", title=case.title)
            )
    busy = await session.execute(
        select(ConsultationCase.case_id)
        .join(Consultation, col(Consultation.id) == ConsultationCase.consultation_id)
        .where(
            col(ConsultationCase.case_id).in_([c.id for c in cases]),
            col(Consultation.status).in_(OPEN),
        )
    )
    if busy.first() is not None:
        raise Conflict(msg("Hồ sơ đã có một yêu cầu hội chẩn đang mở"))
    consultation = Consultation(
        title=data.title,
        note=data.note,
        requesting_facility_id=requesting.id,
        host_facility_id=host.id,
        requested_by=actor.user_id,
        preferred_start=data.preferred_start,
    )
    session.add(consultation)
    await session.flush()
    for case in cases:
        session.add(ConsultationCase(consultation_id=consultation.id, case_id=case.id))
        if case.status == CaseStatus.draft:
            await apply_transition(session, case=case, to=CaseStatus.submitted, actor=actor)
    if actor.user_id is not None:
        session.add(
            Participant(
                consultation_id=consultation.id,
                user_id=actor.user_id,
                role=ParticipantRole.presenter,
                invited_by=actor.user_id,
            )
        )
    await audit.record(
        session,
        actor=actor,
        action="create",
        object_type="consultation",
        object_id=consultation.id,
        detail={"host": str(host.id), "cases": [str(c.id) for c in cases]},
    )
    await session.commit()
    await announce(
        session, ConsultationRequested(actor_id=actor.user_id, consultation_id=consultation.id)
    )
    return consultation


async def cancel(
    *, session: AsyncSession, consultation_id: uuid.UUID, actor: Actor, reason: str = ""
) -> Consultation:
    """Cancel a session (host coordinator, or the requesting doctor before it is scheduled)."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    own_request = (
        actor.user_id is not None
        and consultation.requested_by == actor.user_id
        and consultation.status == ConsultationStatus.requested
    )
    if not (access.can_manage(actor, consultation) or own_request):
        raise await access.deny(
            session,
            actor=actor,
            object_type="consultation",
            object_id=consultation.id,
            need="cancel",
            forbidden=msg("Bạn không có quyền hủy phiên hội chẩn này"),
        )
    await set_status(
        session, consultation=consultation, to=ConsultationStatus.cancelled, actor=actor
    )
    for case in await cases_of(session, consultation.id):
        if case.status == CaseStatus.scheduled:
            await apply_transition(
                session, case=case, to=CaseStatus.submitted, actor=actor, note=reason
            )
    invitees = await participant_ids(session, consultation.id)
    await session.commit()
    await announce(
        session,
        ConsultationCancelled(
            actor_id=actor.user_id,
            consultation_id=consultation.id,
            room_id=consultation.room_id,
            invitees=tuple(invitees),
        ),
    )
    return consultation


async def _require_runner(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Consultation:
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    if access.can_manage(actor, consultation) or await access.is_chair(
        session=session, actor=actor, consultation=consultation
    ):
        return consultation
    raise await access.deny(
        session,
        actor=actor,
        object_type="consultation",
        object_id=consultation.id,
        need="run",
        forbidden=msg("Chỉ chủ tọa hoặc điều phối viên được điều hành phiên"),
    )


async def start_live(
    session: AsyncSession, *, consultation: Consultation, actor: Actor, at: datetime
) -> None:
    """Mark a scheduled consultation live (no commit)."""
    await set_status(session, consultation=consultation, to=ConsultationStatus.live, actor=actor)
    consultation.started_at = at


async def finish(
    session: AsyncSession, *, consultation: Consultation, actor: Actor, at: datetime
) -> None:
    """End a consultation and mark its scheduled cases discussed (no commit)."""
    await set_status(session, consultation=consultation, to=ConsultationStatus.ended, actor=actor)
    consultation.ended_at = at
    for case in await cases_of(session, consultation.id):
        if case.status == CaseStatus.scheduled:
            await apply_transition(session, case=case, to=CaseStatus.discussed, actor=actor)


async def mark_live(
    *, session: AsyncSession, consultation_id: uuid.UUID, actor: Actor
) -> Consultation:
    """Open the session (chair or host coordinator)."""
    consultation = await _require_runner(session, actor, consultation_id)
    await start_live(session, consultation=consultation, actor=actor, at=utcnow())
    await session.commit()
    return consultation


async def end(*, session: AsyncSession, consultation_id: uuid.UUID, actor: Actor) -> Consultation:
    """Close the session (chair or host coordinator); its cases become discussed."""
    consultation = await _require_runner(session, actor, consultation_id)
    await finish(session, consultation=consultation, actor=actor, at=utcnow())
    await session.commit()
    return consultation


async def to_public(session: AsyncSession, consultation: Consultation) -> ConsultationPublic:
    """The public view of a consultation, with its case ids and participants."""
    parts = (
        (
            await session.execute(
                select(Participant)
                .where(Participant.consultation_id == consultation.id)
                .order_by(col(Participant.invited_at))
            )
        )
        .scalars()
        .all()
    )
    return ConsultationPublic.model_validate(
        consultation,
        update={
            "case_ids": await case_ids(session, consultation.id),
            "participants": [ParticipantPublic.model_validate(p) for p in parts],
        },
    )


async def get_consultation(
    *, session: AsyncSession, consultation_id: uuid.UUID, actor: Actor
) -> ConsultationPublic:
    """One consultation with its case ids and participants."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    return await to_public(session, consultation)


async def list_consultations(
    *,
    session: AsyncSession,
    actor: Actor,
    status: ConsultationStatus | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    mine: bool = False,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int | None = None,
) -> Page[Consultation]:
    """Consultations the actor may see; ``start``/``end`` bound the scheduled start (agenda).

    Soonest scheduled first (the agenda's order), or with ``newest_first`` the latest by
    scheduled start, else by request time (an overview that must not fill up with last year).
    """
    lim, off = clamp_page(limit, offset)
    conds: list[Any] = [access.consultations_filter(actor)]
    if status is not None:
        conds.append(Consultation.status == status)
    if start is not None:
        conds.append(col(Consultation.scheduled_start) >= start)
    if end is not None:
        conds.append(col(Consultation.scheduled_start) < end)
    if mine:
        conds.append(
            sa.or_(
                col(Consultation.chair_id) == actor.user_id,
                col(Consultation.id).in_(
                    select(Participant.consultation_id).where(Participant.user_id == actor.user_id)
                ),
            )
        )
    where = sa.and_(*conds)
    total = (
        await session.execute(select(sa.func.count()).select_from(Consultation).where(where))
    ).scalar_one()
    if newest_first:
        order: tuple[Any, ...] = (
            sa.func.coalesce(
                col(Consultation.scheduled_start), col(Consultation.created_at)
            ).desc(),
            col(Consultation.id),
        )
    else:
        order = (
            col(Consultation.scheduled_start).is_(None),
            col(Consultation.scheduled_start),
            col(Consultation.created_at).desc(),
        )
    items = (
        (
            await session.execute(
                select(Consultation).where(where).order_by(*order).limit(lim).offset(off)
            )
        )
        .scalars()
        .all()
    )
    return Page(items=list(items), total=int(total), limit=lim, offset=off)


async def upcoming_for(
    *, session: AsyncSession, actor: Actor, now: datetime | None = None, limit: int = 20
) -> list[Consultation]:
    """Scheduled or live sessions the actor may see that have not ended yet, soonest first."""
    now = now or utcnow()
    rows = await session.execute(
        select(Consultation)
        .where(
            access.consultations_filter(actor),
            col(Consultation.status).in_(BUSY),
            col(Consultation.scheduled_end) > now,
        )
        .order_by(col(Consultation.scheduled_start))
        .limit(max(1, min(limit, 200)))
    )
    return list(rows.scalars().all())
