"""The activity of the referral network, in figures: requests, sessions held and cancelled, how
long requests wait, emergencies against their target, specialties, attendance and connection
quality, per requesting facility and local month.

Every figure is aggregated in SQL (no rows come back to Python), so the dashboard stays fast on
millions of cases. The figures carry no patient data; the list behind a figure does, and goes
through the consultations' read rule.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access
from ..actor import Actor
from ..errors import Forbidden, Invalid
from ..messages import msg
from ..models import (
    Attendance,
    Case,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    Minutes,
    MinutesStatus,
    NetworkTestResult,
    NetworkVerdict,
    Role,
    Urgency,
    User,
)
from ..sqltime import hours, month_of
from . import clamp_page
from .activity_filters import Activity, ActivityFilter, Figure, MonthFigures

# Verdicts of a link that cannot carry video.
POOR = (NetworkVerdict.audio.value, NetworkVerdict.failed.value)


def require_viewer(actor: Actor) -> None:
    """Admins see the whole network; coordinators the requests to and from their facility."""
    if actor.is_system or actor.role in (Role.admin, Role.coordinator):
        return
    raise Forbidden(msg("Chỉ quản trị viên và điều phối viên xem được thống kê hoạt động"))


def _scope(actor: Actor) -> Any:
    if actor.is_system or actor.role == Role.admin:
        return sa.true()
    return sa.or_(
        col(Consultation.requesting_facility_id) == actor.facility_id,
        col(Consultation.host_facility_id) == actor.facility_id,
    )


def _emergency() -> Any:
    """Whether any case of the consultation is an emergency."""
    return (
        select(ConsultationCase.consultation_id)
        .join(Case, col(Case.id) == col(ConsultationCase.case_id))
        .where(
            col(ConsultationCase.consultation_id) == col(Consultation.id),
            col(Case.urgency) == Urgency.emergency,
        )
        .exists()
    )


def _conditions(actor: Actor, flt: ActivityFilter) -> list[Any]:
    start, end = flt.period.bounds()
    conds: list[Any] = [
        _scope(actor),
        col(Consultation.created_at) >= start,
        col(Consultation.created_at) < end,
    ]
    if flt.facility_id is not None:
        conds.append(Consultation.requesting_facility_id == flt.facility_id)
    if flt.specialty is not None:
        conds.append(
            select(ConsultationCase.consultation_id)
            .join(Case, col(Case.id) == col(ConsultationCase.case_id))
            .where(
                col(ConsultationCase.consultation_id) == col(Consultation.id),
                col(Case.specialty) == flt.specialty,
            )
            .exists()
        )
    return conds


def _on_target(flt: ActivityFilter) -> Any:
    waited = hours(Consultation.created_at, Consultation.scheduled_at)
    return sa.and_(
        col(Consultation.scheduled_at).is_not(None),
        waited <= flt.emergency_target.total_seconds() / 3600.0,
    )


def _count(cond: Any) -> Any:
    return sa.func.sum(sa.case((cond, 1), else_=0))


async def _counts(
    session: AsyncSession, actor: Actor, flt: ActivityFilter
) -> dict[tuple[uuid.UUID, str], MonthFigures]:
    month = month_of(Consultation.created_at).label("month")
    # Joined once, grouped, rather than looked up again for every consultation.
    urgent = (
        select(col(ConsultationCase.consultation_id).label("cid"))
        .join(Case, col(Case.id) == col(ConsultationCase.case_id))
        .where(col(Case.urgency) == Urgency.emergency)
        .group_by(col(ConsultationCase.consultation_id))
        .subquery()
    )
    present = (
        select(
            col(Attendance.consultation_id).label("cid"),
            sa.func.count(sa.distinct(col(Attendance.user_id))).label("n"),
        )
        .group_by(col(Attendance.consultation_id))
        .subquery()
    )
    emergency = urgent.c.cid.is_not(None)
    attendees = sa.func.coalesce(present.c.n, 0)
    stmt = (
        sa.select(
            col(Consultation.requesting_facility_id),
            month,
            sa.func.count(),
            _count(Consultation.status == ConsultationStatus.ended),
            _count(Consultation.status == ConsultationStatus.cancelled),
            _count(emergency),
            _count(sa.and_(emergency, _on_target(flt))),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case(
                        (col(Consultation.status) == ConsultationStatus.ended, attendees), else_=0
                    )
                ),
                0,
            ),
        )
        .select_from(Consultation)
        .outerjoin(urgent, urgent.c.cid == col(Consultation.id))
        .outerjoin(present, present.c.cid == col(Consultation.id))
        .where(*_conditions(actor, flt))
        .group_by(col(Consultation.requesting_facility_id), month)
    )
    out: dict[tuple[uuid.UUID, str], MonthFigures] = {}
    for fid, mon, req, held, cancelled, emerg, on_target, att in await session.execute(stmt):
        out[(fid, mon)] = MonthFigures(
            facility_id=fid,
            month=mon,
            requested=int(req),
            held=int(held or 0),
            cancelled=int(cancelled or 0),
            emergency=int(emerg or 0),
            emergency_on_target=int(on_target or 0),
            attendees=int(att or 0),
        )
    return out


async def _percentiles(
    session: AsyncSession,
    actor: Actor,
    flt: ActivityFilter,
    duration: Any,
    *,
    extra: Any = None,
    joined: tuple[Any, Any] | None = None,
) -> dict[tuple[uuid.UUID, str], tuple[float, float]]:
    """Median and 90th percentile (nearest rank) of a duration per facility and month
    (``joined``: a table and its condition the duration reads from)."""
    month = month_of(Consultation.created_at)
    conds = _conditions(actor, flt) + [duration.is_not(None)]
    if extra is not None:
        conds.append(extra)
    part = (col(Consultation.requesting_facility_id), month)
    rows = sa.select(
        col(Consultation.requesting_facility_id).label("fid"),
        month.label("month"),
        duration.label("d"),
        sa.func.row_number().over(partition_by=part, order_by=duration).label("rn"),
        sa.func.count().over(partition_by=part).label("n"),
    ).select_from(Consultation)
    if joined is not None:
        rows = rows.join(*joined)
    ranked = rows.where(*conds).subquery()
    stmt = sa.select(
        ranked.c.fid,
        ranked.c.month,
        sa.func.min(sa.case((ranked.c.rn >= 0.5 * ranked.c.n, ranked.c.d))),
        sa.func.min(sa.case((ranked.c.rn >= 0.9 * ranked.c.n, ranked.c.d))),
    ).group_by(ranked.c.fid, ranked.c.month)
    return {
        (fid, mon): (float(med), float(p90)) for fid, mon, med, p90 in await session.execute(stmt)
    }


def _first_final_minutes() -> Any:
    """When each consultation's first minutes became final (cid, at), grouped once."""
    return (
        select(
            col(Minutes.consultation_id).label("cid"),
            sa.func.min(Minutes.finalized_at).label("at"),
        )
        .where(col(Minutes.status) == MinutesStatus.final)
        .group_by(col(Minutes.consultation_id))
        .subquery()
    )


async def _specialties(
    session: AsyncSession, actor: Actor, flt: ActivityFilter
) -> list[tuple[str, int]]:
    stmt = (
        sa.select(col(Case.specialty), sa.func.count(sa.distinct(col(Consultation.id))))
        .select_from(Consultation)
        .join(ConsultationCase, col(ConsultationCase.consultation_id) == col(Consultation.id))
        .join(Case, col(Case.id) == col(ConsultationCase.case_id))
        .where(*_conditions(actor, flt))
        .group_by(Case.specialty)
        .order_by(sa.func.count(sa.distinct(col(Consultation.id))).desc(), col(Case.specialty))
    )
    return [(str(name), int(n)) for name, n in await session.execute(stmt)]


async def _connection(
    session: AsyncSession, actor: Actor, flt: ActivityFilter
) -> dict[uuid.UUID, tuple[int, float | None, float]]:
    """Network tests of each facility's staff in the period: count, median RTT, share poor."""
    start, end = flt.period.bounds()
    conds: list[Any] = [
        col(NetworkTestResult.measured_at) >= start,
        col(NetworkTestResult.measured_at) < end,
    ]
    if not (actor.is_system or actor.role == Role.admin):
        # A coordinator sees the links of the centres that asked their facility in the period.
        asking = select(Consultation.requesting_facility_id).where(
            col(Consultation.host_facility_id) == actor.facility_id,
            col(Consultation.created_at) >= start,
            col(Consultation.created_at) < end,
        )
        conds.append(
            sa.or_(
                col(User.facility_id) == actor.facility_id,
                col(User.facility_id).in_(asking),
            )
        )
    if flt.facility_id is not None:
        conds.append(User.facility_id == flt.facility_id)
    rtt = col(NetworkTestResult.rtt_ms)
    ranked = (
        sa.select(
            col(User.facility_id).label("fid"),
            rtt.label("rtt"),
            col(NetworkTestResult.verdict).label("verdict"),
            sa.func.row_number().over(partition_by=col(User.facility_id), order_by=rtt).label("rn"),
            sa.func.count(rtt).over(partition_by=col(User.facility_id)).label("n"),
        )
        .join(User, col(User.id) == col(NetworkTestResult.user_id))
        .where(*conds)
        .subquery()
    )
    stmt = sa.select(
        ranked.c.fid,
        sa.func.count(),
        sa.func.min(
            sa.case(
                (sa.and_(ranked.c.rtt.is_not(None), ranked.c.rn >= 0.5 * ranked.c.n), ranked.c.rtt)
            )
        ),
        sa.func.sum(sa.case((ranked.c.verdict.in_(POOR), 1), else_=0)),
    ).group_by(ranked.c.fid)
    out: dict[uuid.UUID, tuple[int, float | None, float]] = {}
    for fid, n, med, poor in await session.execute(stmt):
        out[fid] = (int(n), None if med is None else float(med), int(poor or 0) / int(n))
    return out


async def activity(*, session: AsyncSession, actor: Actor, flt: ActivityFilter) -> Activity:
    """The dashboard's figures for a filter, per requesting facility and month."""
    require_viewer(actor)
    counts = await _counts(session, actor, flt)
    to_session = await _percentiles(
        session, actor, flt, hours(Consultation.created_at, Consultation.scheduled_start)
    )
    final = _first_final_minutes()
    to_minutes = await _percentiles(
        session,
        actor,
        flt,
        hours(Consultation.created_at, final.c.at),
        joined=(final, final.c.cid == col(Consultation.id)),
    )
    for key, row in counts.items():
        if key in to_session:
            row.to_session_median_h, row.to_session_p90_h = to_session[key]
        if key in to_minutes:
            row.to_minutes_median_h, row.to_minutes_p90_h = to_minutes[key]
    rows = sorted(counts.values(), key=lambda r: (r.month, str(r.facility_id)))
    return Activity(
        months=flt.period.months(),
        rows=rows,
        specialties=await _specialties(session, actor, flt),
        connection=await _connection(session, actor, flt),
    )


async def behind(
    *,
    session: AsyncSession,
    actor: Actor,
    flt: ActivityFilter,
    figure: Figure,
    month: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> tuple[list[tuple[Consultation, bool]], int]:
    """The consultations counted in a figure, newest first: (consultation, readable by actor).

    The figures count what the actor's role oversees; the title and the link are only for
    consultations the actor may read."""
    require_viewer(actor)
    conds = _conditions(actor, flt)
    if month is not None:
        if month not in flt.period.months():
            raise Invalid(msg("Tháng không thuộc khoảng đang xem"))
        conds.append(month_of(Consultation.created_at) == month)
    if figure == Figure.held:
        conds.append(Consultation.status == ConsultationStatus.ended)
    elif figure == Figure.cancelled:
        conds.append(Consultation.status == ConsultationStatus.cancelled)
    elif figure == Figure.emergency:
        conds.append(_emergency())
    elif figure == Figure.emergency_missed:
        conds.append(sa.and_(_emergency(), sa.not_(_on_target(flt))))
    lim, off = clamp_page(limit, offset)
    total = (await session.execute(select(sa.func.count()).where(*conds))).scalar_one()
    readable = access.consultations_filter(actor)
    rows = await session.execute(
        select(Consultation, sa.case((readable, True), else_=False))
        .where(*conds)
        .order_by(col(Consultation.created_at).desc(), col(Consultation.id))
        .limit(lim)
        .offset(off)
    )
    return [(c, bool(ok)) for c, ok in rows.all()], int(total)
