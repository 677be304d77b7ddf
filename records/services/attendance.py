"""Attendance as people read it: one row per person who was in the room, with every interval
they were present, their connection point (facility) and their part in the session.

A read model over the attendance intervals that signalling leaves (``room_events``): a person
who dropped and came back, or joined from two tabs, has several intervals; overlapping or
touching ones are merged, since being in the room twice at once is being there once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access
from ..actor import Actor
from ..models import (
    Attendance,
    Consultation,
    Facility,
    Participant,
    ParticipantRole,
    Role,
    User,
)


@dataclass(frozen=True, slots=True)
class Interval:
    """One stretch of presence; ``left_at`` None while still in the room (or never closed)."""

    joined_at: datetime
    left_at: datetime | None

    def seconds(self, now: datetime) -> float:
        """How long it lasted (until ``now`` while open)."""
        return max(0.0, ((self.left_at or now) - self.joined_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Attendee:
    """One person's presence in a session."""

    user_id: uuid.UUID
    name: str
    title: str
    specialty: str
    facility_id: uuid.UUID
    facility: str
    role: ParticipantRole
    intervals: tuple[Interval, ...]

    @property
    def first_joined(self) -> datetime:
        """When the person first came in."""
        return self.intervals[0].joined_at

    @property
    def last_left(self) -> datetime | None:
        """When the person last left (None while still in the room)."""
        return self.intervals[-1].left_at

    def seconds(self, now: datetime) -> float:
        """Time present, in seconds (open intervals count until ``now``)."""
        return sum(i.seconds(now) for i in self.intervals)


def merge(intervals: list[Interval]) -> tuple[Interval, ...]:
    """Intervals in time order with overlapping or touching ones joined."""
    out: list[Interval] = []
    for item in sorted(intervals, key=lambda i: i.joined_at):
        if out:
            last = out[-1]
            if last.left_at is None or item.joined_at <= last.left_at:
                left = (
                    None
                    if last.left_at is None or item.left_at is None
                    else max(last.left_at, item.left_at)
                )
                out[-1] = Interval(last.joined_at, left)
                continue
        out.append(item)
    return tuple(out)


def role_of(
    consultation: Consultation, user: User, invited: dict[uuid.UUID, ParticipantRole]
) -> ParticipantRole:
    """A person's part: their invitation, the chair, the requesting facility's doctor who
    presents the case, else an observer (a host coordinator looking in)."""
    if user.id in invited:
        return invited[user.id]
    if consultation.chair_id == user.id:
        return ParticipantRole.chair
    if user.role == Role.doctor and user.facility_id == consultation.requesting_facility_id:
        return ParticipantRole.presenter
    return ParticipantRole.observer


async def attendance(session: AsyncSession, consultation: Consultation) -> list[Attendee]:
    """Everyone who was in the room, in the order they first came in (no access check: for
    services that checked already)."""
    rows = (
        await session.execute(
            select(Attendance, User, Facility)
            .join(User, col(User.id) == Attendance.user_id)
            .join(Facility, col(Facility.id) == User.facility_id)
            .where(Attendance.consultation_id == consultation.id)
            .order_by(col(Attendance.joined_at))
        )
    ).all()
    invited = {
        uid: ParticipantRole(role)
        for uid, role in (
            await session.execute(
                select(Participant.user_id, Participant.role).where(
                    Participant.consultation_id == consultation.id
                )
            )
        ).all()
    }
    people: dict[uuid.UUID, tuple[User, Facility]] = {}
    stays: dict[uuid.UUID, list[Interval]] = {}
    for stay, user, facility in rows:
        people.setdefault(user.id, (user, facility))
        stays.setdefault(user.id, []).append(Interval(stay.joined_at, stay.left_at))
    return [
        Attendee(
            user_id=user.id,
            name=user.display_name,
            title=user.title or "",
            specialty=user.specialty or "",
            facility_id=facility.id,
            facility=facility.name,
            role=role_of(consultation, user, invited),
            intervals=merge(stays[user.id]),
        )
        for user, facility in people.values()
    ]


def connection_points(attendees: list[Attendee]) -> list[tuple[uuid.UUID, str]]:
    """The facilities that took part, in the order they first connected."""
    seen: dict[uuid.UUID, str] = {}
    for person in sorted(attendees, key=lambda a: a.first_joined):
        seen.setdefault(person.facility_id, person.facility)
    return list(seen.items())


async def read_attendance(
    *, session: AsyncSession, consultation_id: uuid.UUID, actor: Actor
) -> list[Attendee]:
    """The attendance of a consultation the actor may read."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    return await attendance(session, consultation)
