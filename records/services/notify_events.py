"""Who is told what, for each event of the records; the reminder before a session; the hook
for an overdue outcome.

Messages name a consultation or a case by its reference and facility only: they go out by
e-mail, and a title may carry a patient's name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import events as ev
from ..localtime import to_local
from ..messages import N_, msg
from ..models import (
    Case,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    Facility,
    Notification,
    NotificationKind,
    Participant,
    ParticipantRole,
    Role,
    Urgency,
    User,
)
from ..models.base import utcnow
from . import notifications
from .notifications import Draft, reference
from .urgency import urgencies

REQUESTED = N_("Yêu cầu hội chẩn mới %(ref)s từ %(facility)s")
REQUESTED_EMERGENCY = N_("CẤP CỨU: yêu cầu hội chẩn %(ref)s từ %(facility)s")
SCHEDULED = N_("Phiên hội chẩn %(ref)s (%(facility)s) đã được lên lịch lúc %(when)s")
RESCHEDULED = N_("Phiên hội chẩn %(ref)s (%(facility)s) đổi giờ sang %(when)s")
INVITED = N_("Bạn được mời tham gia phiên hội chẩn %(ref)s (%(facility)s) lúc %(when)s")
CANCELLED = N_("Phiên hội chẩn %(ref)s (%(facility)s) đã bị hủy")
DECLINED = N_("%(name)s từ chối lời mời phiên hội chẩn %(ref)s")
REMINDER = N_("Phiên hội chẩn %(ref)s (%(facility)s) bắt đầu lúc %(when)s")
MINUTES = N_("Biên bản phiên hội chẩn %(ref)s (%(facility)s) đã hoàn tất")
OUTCOME = N_("Hồ sơ %(ref)s (%(facility)s) chưa ghi kết quả sau hội chẩn")
THREAD = N_("Có tin nhắn mới trong hồ sơ %(ref)s (%(facility)s)")


def when(moment: datetime | None) -> str:
    """A time as Vietnamese clocks and calendars write it (the same in every language)."""
    return f"{to_local(moment):%H:%M %d/%m/%Y}" if moment is not None else ""


async def _facility_name(session: AsyncSession, facility_id: uuid.UUID) -> str:
    facility = await session.get(Facility, facility_id)
    return facility.name if facility is not None else ""


async def coordinators_of(session: AsyncSession, facility_id: uuid.UUID) -> list[uuid.UUID]:
    """The active coordinators of a facility."""
    rows = await session.execute(
        select(User.id).where(
            User.facility_id == facility_id,
            User.role == Role.coordinator,
            col(User.active).is_(True),
        )
    )
    return list(rows.scalars().all())


async def _participants(session: AsyncSession, consultation_id: uuid.UUID) -> list[Participant]:
    rows = await session.execute(
        select(Participant).where(Participant.consultation_id == consultation_id)
    )
    return list(rows.scalars().all())


def _without(ids: Iterable[uuid.UUID], actor_id: uuid.UUID | None) -> list[uuid.UUID]:
    return [i for i in dict.fromkeys(ids) if i != actor_id]


async def _about(
    session: AsyncSession, consultation_id: uuid.UUID
) -> tuple[Consultation, dict[str, str]]:
    consultation = await session.get(Consultation, consultation_id)
    if consultation is None:
        raise LookupError(consultation_id)
    params = {
        "ref": reference(consultation.id),
        "facility": await _facility_name(session, consultation.requesting_facility_id),
        "when": when(consultation.scheduled_start),
    }
    return consultation, params


async def drafts_for(
    session: AsyncSession, event: ev.DomainEvent
) -> list[tuple[Draft, list[uuid.UUID]]]:
    """The notifications an event causes: (what, to whom)."""
    out: list[tuple[Draft, list[uuid.UUID]]] = []
    actor = event.actor_id
    if isinstance(event, ev.ConsultationRequested):
        c, p = await _about(session, event.consultation_id)
        urgent = (await urgencies(session, [c.id])).get(c.id) == Urgency.emergency
        text = msg(REQUESTED_EMERGENCY if urgent else REQUESTED, **p)
        draft = Draft(NotificationKind.request, text, c.id, emergency=urgent)
        out.append((draft, await coordinators_of(session, c.host_facility_id)))
    elif isinstance(event, ev.ConsultationScheduled):
        c, p = await _about(session, event.consultation_id)
        urgent = (await urgencies(session, [c.id])).get(c.id) == Urgency.emergency
        everyone = [x.user_id for x in await _participants(session, c.id)]
        new = set(event.new_invitees)
        invited = Draft(NotificationKind.invited, msg(INVITED, **p), c.id, emergency=urgent)
        out.append((invited, _without([u for u in everyone if u in new], actor)))
        said = RESCHEDULED if event.rescheduled else SCHEDULED
        others = [u for u in everyone if u not in new]
        if c.requested_by is not None:
            others.append(c.requested_by)
        if event.rescheduled or not event.new_invitees or others:
            draft = Draft(NotificationKind.scheduled, msg(said, **p), c.id, emergency=urgent)
            out.append((draft, _without(others, actor)))
    elif isinstance(event, ev.Invited):
        c, p = await _about(session, event.consultation_id)
        out.append(
            (
                Draft(NotificationKind.invited, msg(INVITED, **p), c.id),
                _without([event.user_id], actor),
            )
        )
    elif isinstance(event, ev.ConsultationCancelled):
        c, p = await _about(session, event.consultation_id)
        told: list[uuid.UUID] = [*event.invitees, *([c.requested_by] if c.requested_by else [])]
        out.append(
            (Draft(NotificationKind.cancelled, msg(CANCELLED, **p), c.id), _without(told, actor))
        )
    elif isinstance(event, ev.InvitationAnswered) and not event.accepted:
        c, p = await _about(session, event.consultation_id)
        user = await session.get(User, event.user_id)
        text = msg(DECLINED, name=user.display_name if user else "", ref=p["ref"])
        out.append(
            (
                Draft(NotificationKind.declined, text, c.id),
                await coordinators_of(session, c.host_facility_id),
            )
        )
    elif isinstance(event, ev.MinutesFinalised):
        c, p = await _about(session, event.consultation_id)
        told = [x.user_id for x in await _participants(session, c.id)]
        if c.requested_by is not None:
            told.append(c.requested_by)
        draft = Draft(NotificationKind.minutes, msg(MINUTES, **p), c.id, event.case_id)
        out.append((draft, _without(told, actor)))
    elif isinstance(event, ev.OutcomeOverdue):
        out.extend(await _outcome_drafts(session, event))
    elif isinstance(event, ev.ThreadPosted):
        out.extend(await _thread_drafts(session, event))
    return [(draft, ids) for draft, ids in out if ids]


async def _case_params(session: AsyncSession, case: Case) -> dict[str, str]:
    return {
        "ref": reference(case.id, "HS"),
        "facility": await _facility_name(session, case.facility_id),
    }


async def _outcome_drafts(
    session: AsyncSession, event: ev.OutcomeOverdue
) -> list[tuple[Draft, list[uuid.UUID]]]:
    case = await session.get(Case, event.case_id)
    if case is None:
        return []
    told = [case.author_id]
    if event.consultation_id is not None:
        consultation = await session.get(Consultation, event.consultation_id)
        if consultation is not None and consultation.requested_by is not None:
            told.append(consultation.requested_by)
    text = msg(OUTCOME, **await _case_params(session, case))
    draft = Draft(NotificationKind.outcome, text, event.consultation_id, case.id)
    return [(draft, _without(told, event.actor_id))]


async def thread_audience(session: AsyncSession, case: Case) -> list[uuid.UUID]:
    """Who follows a case's thread: its author and everyone invited to a session about it."""
    rows = await session.execute(
        select(Participant.user_id)
        .join(Consultation, col(Consultation.id) == Participant.consultation_id)
        .join(ConsultationCase, col(ConsultationCase.consultation_id) == Consultation.id)
        .where(
            ConsultationCase.case_id == case.id,
            Consultation.status != ConsultationStatus.cancelled,
        )
    )
    return [case.author_id, *rows.scalars().all()]


async def _thread_drafts(
    session: AsyncSession, event: ev.ThreadPosted
) -> list[tuple[Draft, list[uuid.UUID]]]:
    case = await session.get(Case, event.case_id)
    if case is None:
        return []
    text = msg(THREAD, **await _case_params(session, case))
    draft = Draft(NotificationKind.thread, text, None, case.id, thread_message_id=event.message_id)
    return [(draft, _without(await thread_audience(session, case), event.actor_id))]


async def notify(
    *,
    session: AsyncSession,
    event: ev.DomainEvent,
    default_language: str = "vi",
    email: bool = True,
) -> list[Notification]:
    """Create (and commit) the notifications of one event; their e-mails wait in the outbox."""
    created: list[Notification] = []
    try:
        planned = await drafts_for(session, event)
    except LookupError:
        return []
    for draft, recipients in planned:
        created += await notifications.create(
            session,
            draft=draft,
            recipients=recipients,
            default_language=default_language,
            email=email,
        )
    await session.commit()
    return created


async def send_reminders(
    *,
    session: AsyncSession,
    now: datetime | None = None,
    lead: timedelta = timedelta(minutes=15),
    default_language: str = "vi",
    email: bool = True,
) -> list[Notification]:
    """Remind everyone invited to a session starting within ``lead``; once per session and time,
    whichever process or restart gets there first (the claim is one conditional UPDATE)."""
    now = now or utcnow()
    due = (
        (
            await session.execute(
                select(Consultation.id).where(
                    Consultation.status == ConsultationStatus.scheduled,
                    col(Consultation.reminded_at).is_(None),
                    col(Consultation.scheduled_start) > now,
                    col(Consultation.scheduled_start) <= now + lead,
                )
            )
        )
        .scalars()
        .all()
    )
    await session.commit()
    created: list[Notification] = []
    for consultation_id in due:
        claimed = await session.execute(
            sa.update(Consultation)
            .where(col(Consultation.id) == consultation_id, col(Consultation.reminded_at).is_(None))
            .values(reminded_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            await session.commit()
            continue
        c, p = await _about(session, consultation_id)
        told = [x.user_id for x in await _participants(session, c.id)]
        draft = Draft(NotificationKind.reminder, msg(REMINDER, **p), c.id)
        created += await notifications.create(
            session,
            draft=draft,
            recipients=told,
            default_language=default_language,
            email=email,
        )
        # The claim and the notifications commit together: a crash leaves neither.
        await session.commit()
    return created


async def outcome_overdue(
    *,
    session: AsyncSession,
    case_id: uuid.UUID,
    consultation_id: uuid.UUID | None = None,
    default_language: str = "vi",
    email: bool = True,
) -> list[Notification]:
    """The entry point for the outcome follow-up: tell the case's doctors that its outcome is
    overdue (the scheduler that decides "overdue" belongs to the outcome feature)."""
    return await notify(
        session=session,
        event=ev.OutcomeOverdue(case_id=case_id, consultation_id=consultation_id),
        default_language=default_language,
        email=email,
    )


__all__ = ["ParticipantRole", "notify", "outcome_overdue", "send_reminders"]
