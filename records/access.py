"""Who may see and do what: the only place access to records is decided.

- admin: facilities, users, the audit log, the dashboard; no clinical content by default.
- doctor: patients and cases of their own facility (read and write); the consultations their
  facility requested (read).
- coordinator: consultations hosted by their facility (read and manage: schedule, invite,
  admit, chair) and the cases and patient headers attached to them (read); the consultations
  their own facility requested (read).
- anyone invited to a consultation (a Participant row, or its chair): the consultation, and its
  cases with their patient header, attachments and minutes, from the invitation until the
  minutes for that case are final plus the actor's follow-up window (``Actor.policy``, set
  from the settings); a cancelled consultation grants none.
- the chair of a consultation writes and finalises its minutes.
- admin: user accounts (sign-outs, unlocks, password resets) and the audit log, via
  ``require_admin``.
- the system actor may do everything.

An actor who may not know an object exists gets NotFound, so ids cannot be probed; Forbidden
only when they may see it but not do this. Every refusal is audited as ``denied``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .actor import Actor
from .messages import msg
from .models import (
    Case,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    Minutes,
    MinutesStatus,
    Participant,
    ParticipantRole,
    Patient,
    Role,
)
from .models.base import utcnow
from .refusals import deny as deny
from .refusals import require_admin as require_admin
from .refusals import require_role as require_role

Clause = Any


def _participating_case_ids(actor: Actor, now: datetime) -> sa.Select[Any]:
    """Case ids the actor reaches through an invitation still inside its follow-up window."""
    cutoff = now - actor.policy.followup
    closed = (
        select(Minutes.id)
        .where(
            Minutes.consultation_id == ConsultationCase.consultation_id,
            Minutes.case_id == ConsultationCase.case_id,
            Minutes.status == MinutesStatus.final,
            Minutes.finalized_at < cutoff,  # type: ignore[operator]
        )
        .exists()
    )
    invited = sa.or_(
        col(Consultation.chair_id) == actor.user_id,
        select(Participant.id)
        .where(
            Participant.consultation_id == Consultation.id,
            Participant.user_id == actor.user_id,
        )
        .exists(),
    )
    return (
        select(ConsultationCase.case_id)
        .join(Consultation, Consultation.id == ConsultationCase.consultation_id)  # type: ignore[arg-type]
        .where(invited, Consultation.status != ConsultationStatus.cancelled, ~closed)
    )


def _hosted_case_ids(facility_id: uuid.UUID | None) -> sa.Select[Any]:
    return (
        select(ConsultationCase.case_id)
        .join(Consultation, Consultation.id == ConsultationCase.consultation_id)  # type: ignore[arg-type]
        .where(Consultation.host_facility_id == facility_id)
    )


def case_sources(actor: Actor, now: datetime | None = None) -> list[Clause]:
    """The cases the actor may read as where-clauses on Case, one per reason, the broadest first
    (their OR is `cases_filter`): a list can read each through its own index and merge them."""
    if actor.is_system:
        return [sa.true()]
    now = now or utcnow()
    clauses: list[Clause] = []
    if actor.role == Role.doctor:
        clauses.append(Case.facility_id == actor.facility_id)
    elif actor.role == Role.coordinator:
        clauses.append(col(Case.id).in_(_hosted_case_ids(actor.facility_id)))
    clauses.append(col(Case.id).in_(_participating_case_ids(actor, now)))
    return clauses


def cases_filter(actor: Actor, now: datetime | None = None) -> Clause:
    """A where-clause on Case selecting the cases the actor may read."""
    return sa.or_(*case_sources(actor, now))


def patients_filter(
    actor: Actor,
    now: datetime | None = None,
    *,
    among: Clause | None = None,
    per_row: bool = False,
) -> Clause:
    """A where-clause on Patient selecting the patients the actor may read.

    The rule is one; its SQL has three shapes. By default it lists the patients of every case
    the actor may read (hashed once: best when most rows are looked at). With ``among``, a
    condition on Patient that indexes answer (a name search), it reads only the cases of the
    patients ``among`` finds. With ``per_row``, it checks each row's cases on their own (a
    correlated EXISTS): SQLite's best plan for few candidates, while PostgreSQL turns that back
    into the list of all readable cases once it expects a thousand of them.
    """
    if actor.is_system:
        return sa.true()
    own: Clause = sa.false()
    if actor.role == Role.doctor:
        own = col(Patient.facility_id) == actor.facility_id
    # Others see the header of a patient whose case they may read.
    readable_case = cases_filter(actor, now)
    if per_row:
        return sa.or_(
            own, select(Case.id).where(Case.patient_id == Patient.id, readable_case).exists()
        )
    cases = select(Case.patient_id).where(readable_case)
    if among is not None:
        # correlate(None): the candidates are a query of their own, not the enclosing row.
        cases = cases.where(
            col(Case.patient_id).in_(select(Patient.id).where(among).correlate(None))
        )
    return sa.or_(own, col(Patient.id).in_(cases))


def consultations_filter(actor: Actor) -> Clause:
    """A where-clause on Consultation selecting the consultations the actor may read."""
    if actor.is_system:
        return sa.true()
    clauses: list[Any] = [
        col(Consultation.chair_id) == actor.user_id,
        col(Consultation.id).in_(
            select(Participant.consultation_id).where(Participant.user_id == actor.user_id)
        ),
    ]
    if actor.role == Role.doctor:
        clauses.append(Consultation.requesting_facility_id == actor.facility_id)
    elif actor.role == Role.coordinator:
        clauses.append(Consultation.host_facility_id == actor.facility_id)
        clauses.append(Consultation.requesting_facility_id == actor.facility_id)
    return sa.or_(*clauses)


def can_write_clinical(actor: Actor, facility_id: uuid.UUID) -> bool:
    """Whether the actor may create or edit patients and cases of a facility."""
    return actor.is_system or (actor.role == Role.doctor and actor.facility_id == facility_id)


def can_register_patients(actor: Actor) -> bool:
    """Whether the actor may register patients (at their own facility)."""
    return actor.facility_id is not None and can_write_clinical(actor, actor.facility_id)


def can_request_consultations(actor: Actor) -> bool:
    """Whether the actor may ask a facility up the line to discuss their cases."""
    return actor.is_system or actor.role == Role.doctor


async def require_patient(
    *, session: AsyncSession, actor: Actor, patient_id: uuid.UUID, write: bool = False
) -> Patient:
    """The patient if the actor may read it (and write it, when asked), else NotFound/Forbidden."""
    patient = (
        await session.execute(
            select(Patient).where(Patient.id == patient_id, patients_filter(actor))
        )
    ).scalar_one_or_none()
    if patient is None:
        # The audit names the patient who was probed, if real, for the privacy officer.
        exists = await session.get(Patient, patient_id) is not None
        raise await deny(
            session,
            actor=actor,
            object_type="patient",
            object_id=patient_id,
            need="read",
            patient_id=patient_id if exists else None,
        )
    if write and not can_write_clinical(actor, patient.facility_id):
        raise await deny(
            session,
            actor=actor,
            object_type="patient",
            object_id=patient_id,
            patient_id=patient_id,
            need="write",
            forbidden=msg("Bạn không có quyền sửa thông tin bệnh nhân này"),
        )
    return patient


async def require_case(
    *,
    session: AsyncSession,
    actor: Actor,
    case_id: uuid.UUID,
    write: bool = False,
) -> Case:
    """The case if the actor may read it (and write it, when asked), else NotFound/Forbidden."""
    case = (
        await session.execute(select(Case).where(Case.id == case_id, cases_filter(actor, utcnow())))
    ).scalar_one_or_none()
    if case is None:
        probed = await session.get(Case, case_id)
        raise await deny(
            session,
            actor=actor,
            object_type="case",
            object_id=case_id,
            need="read",
            patient_id=probed.patient_id if probed else None,
        )
    if write and not can_write_clinical(actor, case.facility_id):
        raise await deny(
            session,
            actor=actor,
            object_type="case",
            object_id=case_id,
            patient_id=case.patient_id,
            need="write",
            forbidden=msg("Bạn không có quyền sửa hồ sơ này"),
        )
    return case


def can_manage(actor: Actor, consultation: Consultation) -> bool:
    """Whether the actor schedules, invites and admits for this consultation."""
    return actor.is_system or (
        actor.role == Role.coordinator and actor.facility_id == consultation.host_facility_id
    )


async def require_consultation(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    manage: bool = False,
) -> Consultation:
    """The consultation if the actor may read it (and manage it, when asked)."""
    consultation: Consultation = (await _readable_consultation(session, actor, consultation_id))[0]
    if manage and not can_manage(actor, consultation):
        raise await deny(
            session,
            actor=actor,
            object_type="consultation",
            object_id=consultation_id,
            need="manage",
            forbidden=msg("Chỉ điều phối viên của cơ sở chủ trì được thực hiện thao tác này"),
        )
    return consultation


async def is_chair(*, session: AsyncSession, actor: Actor, consultation: Consultation) -> bool:
    """Whether the actor chairs the consultation (its chair, or a Participant with role chair)."""
    if actor.is_system:
        return True
    if actor.user_id is not None and consultation.chair_id == actor.user_id:
        return True
    return ParticipantRole.chair in await _participant_roles(session, actor, consultation)


async def require_chair(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Consultation:
    """The consultation if the actor chairs it; Forbidden for other readers."""
    consultation = await require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    if not await is_chair(session=session, actor=actor, consultation=consultation):
        raise await deny(
            session,
            actor=actor,
            object_type="consultation",
            object_id=consultation_id,
            need="chair",
            forbidden=msg("Chỉ chủ tọa được ghi và hoàn tất biên bản"),
        )
    return consultation


async def consultation_by_room(*, session: AsyncSession, room_id: str) -> Consultation | None:
    """The consultation that owns a signalling room, if any."""
    return (
        await session.execute(select(Consultation).where(Consultation.room_id == room_id))
    ).scalar_one_or_none()


def invitation_role(user_id: uuid.UUID | None) -> Any:
    """A column: the user's Participant role in the query's Consultation, NULL when not invited."""
    return (
        select(Participant.role)
        .where(Participant.consultation_id == Consultation.id, Participant.user_id == user_id)
        .limit(1)
        .scalar_subquery()
    )


def invited_as(role: str | None) -> tuple[ParticipantRole, ...]:
    """The Participant roles for a value of ``invitation_role`` (empty when not invited)."""
    return () if role is None else (ParticipantRole(role),)


async def require_consultation_with_roles(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> tuple[Consultation, tuple[ParticipantRole, ...]]:
    """The consultation if the actor may read it, and the actor's Participant roles in it."""
    row = await _readable_consultation(
        session, actor, consultation_id, invitation_role(actor.user_id)
    )
    return row[0], invited_as(row[1])


async def _readable_consultation(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, *extra: Any
) -> Any:
    """The row (the consultation, then ``extra`` columns) if the actor may read it; else denied."""
    row = (
        await session.execute(
            select(Consultation, *extra).where(
                Consultation.id == consultation_id, consultations_filter(actor)
            )
        )
    ).first()
    if row is None:
        raise await deny(
            session,
            actor=actor,
            object_type="consultation",
            object_id=consultation_id,
            need="read",
        )
    return row


async def _participant_roles(
    session: AsyncSession, actor: Actor, consultation: Consultation
) -> tuple[ParticipantRole, ...]:
    if actor.user_id is None:
        return ()
    roles = await session.execute(
        select(Participant.role).where(
            Participant.consultation_id == consultation.id,
            Participant.user_id == actor.user_id,
        )
    )
    return tuple(ParticipantRole(r) for r in roles.scalars())


async def room_role(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation: Consultation,
    invited: Collection[ParticipantRole] | None = None,
) -> Literal["moderator", "participant"] | None:
    """The actor's role in the consultation's room; None when they may not join.

    ``invited``: the actor's Participant roles in the consultation when the caller has just
    read them (in the current transaction); otherwise they are looked up here.
    """
    if consultation.status not in (ConsultationStatus.scheduled, ConsultationStatus.live):
        return None
    if can_manage(actor, consultation):
        return "moderator"
    if actor.user_id is not None and consultation.chair_id == actor.user_id:
        return "moderator"
    roles = (
        invited if invited is not None else await _participant_roles(session, actor, consultation)
    )
    if ParticipantRole.chair in roles:
        return "moderator"
    if roles:
        return "participant"
    # The requesting facility's doctors present their cases.
    if actor.role == Role.doctor and actor.facility_id == consultation.requesting_facility_id:
        return "participant"
    return None


async def require_room_role(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation: Consultation,
    invited: Collection[ParticipantRole] | None = None,
) -> Literal["moderator", "participant"]:
    """The actor's role in the consultation's room, or NotFound (audited) when they may not join."""
    role = await room_role(session=session, actor=actor, consultation=consultation, invited=invited)
    if role is None:
        raise await deny(
            session,
            actor=actor,
            object_type="consultation",
            object_id=consultation.id,
            need="join",
        )
    return role
