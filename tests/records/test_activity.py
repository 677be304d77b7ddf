"""The activity figures: computed in SQL, checked against the same figures counted in Python
from the records, on the demo world and on hand-made months."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import factories
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import select

from records.actor import Actor
from records.blobs import BlobStore
from records.db import session_maker
from records.errors import Forbidden, Invalid
from records.localtime import LOCAL_TZ
from records.models import (
    Attendance,
    Case,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    FacilityLevel,
    Minutes,
    MinutesStatus,
    NetworkTestResult,
    NetworkVerdict,
    Role,
    Urgency,
)
from records.passwords import hash_password
from records.services import activity
from records.services.activity_filters import ActivityFilter, Figure, Period
from telemed.demo import seed_demo


def nearest_rank(values: list[float], p: float) -> float:
    """The nearest-rank percentile, the definition the dashboard uses."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def local_month(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m")


async def expected(
    session: AsyncSession, flt: ActivityFilter
) -> dict[tuple[uuid.UUID, str], dict[str, object]]:
    """The figures counted row by row in Python (an admin's view of the whole network)."""
    start, end = flt.period.bounds()
    out: dict[tuple[uuid.UUID, str], dict[str, object]] = {}
    waits: dict[tuple[uuid.UUID, str], list[float]] = {}
    to_minutes: dict[tuple[uuid.UUID, str], list[float]] = {}
    for c in (await session.execute(select(Consultation))).scalars().all():
        if not start <= c.created_at < end:
            continue
        cases = (
            (
                await session.execute(
                    select(Case)
                    .join(ConsultationCase)
                    .where(ConsultationCase.consultation_id == c.id)
                )
            )
            .scalars()
            .all()
        )
        if flt.specialty is not None and not any(k.specialty == flt.specialty for k in cases):
            continue
        key = (c.requesting_facility_id, local_month(c.created_at))
        row = out.setdefault(
            key,
            {"requested": 0, "held": 0, "cancelled": 0, "emergency": 0, "on_target": 0, "att": 0},
        )
        row["requested"] = int(row["requested"]) + 1  # type: ignore[call-overload]
        if c.status == ConsultationStatus.ended:
            row["held"] = int(row["held"]) + 1  # type: ignore[call-overload]
            people = (
                (
                    await session.execute(
                        select(Attendance.user_id).where(Attendance.consultation_id == c.id)
                    )
                )
                .scalars()
                .all()
            )
            row["att"] = int(row["att"]) + len(set(people))  # type: ignore[call-overload]
        if c.status == ConsultationStatus.cancelled:
            row["cancelled"] = int(row["cancelled"]) + 1  # type: ignore[call-overload]
        if any(k.urgency == Urgency.emergency for k in cases):
            row["emergency"] = int(row["emergency"]) + 1  # type: ignore[call-overload]
            if c.scheduled_at is not None and c.scheduled_at - c.created_at <= flt.emergency_target:
                row["on_target"] = int(row["on_target"]) + 1  # type: ignore[call-overload]
        if c.scheduled_start is not None:
            waits.setdefault(key, []).append(
                (c.scheduled_start - c.created_at).total_seconds() / 3600
            )
        finals = [
            m.finalized_at
            for m in (
                await session.execute(select(Minutes).where(Minutes.consultation_id == c.id))
            ).scalars()
            if m.status == MinutesStatus.final and m.finalized_at is not None
        ]
        if finals:
            to_minutes.setdefault(key, []).append(
                (min(finals) - c.created_at).total_seconds() / 3600
            )
    for key, row in out.items():
        row["wait"] = (
            (nearest_rank(waits[key], 0.5), nearest_rank(waits[key], 0.9)) if key in waits else None
        )
        row["minutes"] = (
            (nearest_rank(to_minutes[key], 0.5), nearest_rank(to_minutes[key], 0.9))
            if key in to_minutes
            else None
        )
    return out


def as_dict(result: activity.Activity) -> dict[tuple[uuid.UUID, str], dict[str, object]]:
    out: dict[tuple[uuid.UUID, str], dict[str, object]] = {}
    for r in result.rows:
        out[(r.facility_id, r.month)] = {
            "requested": r.requested,
            "held": r.held,
            "cancelled": r.cancelled,
            "emergency": r.emergency,
            "on_target": r.emergency_on_target,
            "att": r.attendees,
            "wait": None
            if r.to_session_median_h is None
            else (r.to_session_median_h, r.to_session_p90_h),
            "minutes": None
            if r.to_minutes_median_h is None
            else (r.to_minutes_median_h, r.to_minutes_p90_h),
        }
    return out


def same(
    a: dict[tuple[uuid.UUID, str], dict[str, object]],
    b: dict[tuple[uuid.UUID, str], dict[str, object]],
) -> None:
    assert a.keys() == b.keys()
    for key in a:
        for name, value in a[key].items():
            other = b[key][name]
            if isinstance(value, tuple):
                assert isinstance(other, tuple)
                assert value == pytest.approx(other, abs=1e-3), (key, name)
            else:
                assert value == other, (key, name)


async def test_the_demo_worlds_figures_equal_the_records(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed_demo(
        session_maker=session_maker(engine),
        blobs=BlobStore(tmp_path / "blobs"),
        password="Hoichan-demo-2025",
        hash_password=hash_password,
        history_months=12,
    )
    flt = ActivityFilter(Period.last_months(13))
    admin = Actor.system()
    async with session_maker(engine)() as session:
        got = await activity.activity(session=session, actor=admin, flt=flt)
        want = await expected(session, flt)
        assert len(want) >= 24, "the demo world has a year of consultations from two centres"
        same(as_dict(got), want)
        assert sum(n for _, n in got.specialties) >= got.totals().requested
        # The list behind each figure holds exactly as many consultations as the figure says.
        totals = got.totals()
        for figure, count in (
            (Figure.requested, totals.requested),
            (Figure.held, totals.held),
            (Figure.cancelled, totals.cancelled),
            (Figure.emergency, totals.emergency),
            (Figure.emergency_missed, totals.emergency - totals.emergency_on_target),
        ):
            _, total = await activity.behind(session=session, actor=admin, flt=flt, figure=figure)
            assert total == count, figure


async def test_percentiles_emergencies_and_filters(session: AsyncSession) -> None:
    prov = await factories.facility(session, level=FacilityLevel.provincial)
    dist = await factories.facility(session, parent=prov)
    other = await factories.facility(session, parent=prov)
    doc = await factories.user(session, facility=dist)
    patient = await factories.patient(session, facility=dist)
    heart = await factories.case(session, patient=patient, author=doc)
    heart.specialty, heart.urgency = "Tim mạch", Urgency.emergency
    lung = await factories.case(session, patient=patient, author=doc)
    lung.specialty = "Hô hấp"
    session.add_all([heart, lung])
    await session.commit()
    base = datetime(2030, 3, 10, 1, 0, tzinfo=UTC)
    # Ten requests in March, waiting 1..10 hours for their session; the emergency ones are the
    # first three, scheduled 10, 20 and 40 minutes after the request.
    for i in range(10):
        c = await factories.consultation(
            session,
            host=prov,
            requesting=dist,
            cases=[heart if i < 3 else lung],
            status=ConsultationStatus.ended if i % 2 == 0 else ConsultationStatus.cancelled,
        )
        c.created_at = base + timedelta(hours=i)
        c.scheduled_start = c.created_at + timedelta(hours=i + 1)
        c.scheduled_at = c.created_at + timedelta(minutes=(10, 20, 40)[i] if i < 3 else 5)
        session.add(c)
        if i == 0:
            for who in (doc.id, doc.id):
                session.add(
                    Attendance(consultation_id=c.id, user_id=who, peer_id=str(uuid.uuid4()))
                )
    # One request from the other facility, in April local time (23:30 UTC on 31 March).
    late = await factories.consultation(session, host=prov, requesting=other, cases=[lung])
    late.created_at = datetime(2030, 3, 31, 17, 30, tzinfo=UTC)
    session.add(late)
    session.add(NetworkTestResult(user_id=doc.id, rtt_ms=80, verdict=NetworkVerdict.video))
    await session.commit()

    admin = Actor.system()
    period = Period(date(2030, 3, 1), date(2030, 4, 1))
    result = await activity.activity(session=session, actor=admin, flt=ActivityFilter(period))
    rows = {(r.facility_id, r.month): r for r in result.rows}
    march = rows[(dist.id, "2030-03")]
    assert (march.requested, march.held, march.cancelled) == (10, 5, 5)
    assert (march.emergency, march.emergency_on_target) == (3, 2)
    assert march.attendees == 1  # one person, joined twice
    assert march.to_session_median_h == pytest.approx(5.0)
    assert march.to_session_p90_h == pytest.approx(9.0)
    assert rows[(other.id, "2030-04")].requested == 1
    assert result.months == ["2030-03", "2030-04"]
    assert dict(result.specialties) == {"Hô hấp": 8, "Tim mạch": 3}

    only_heart = ActivityFilter(period, specialty="Tim mạch")
    hearts = await activity.activity(session=session, actor=admin, flt=only_heart)
    assert [r.requested for r in hearts.rows] == [3]
    missed, total = await activity.behind(
        session=session, actor=admin, flt=only_heart, figure=Figure.emergency_missed
    )
    assert total == 1 and missed[0][0].scheduled_at is not None
    one = ActivityFilter(period, facility_id=other.id)
    assert [
        r.facility_id for r in (await activity.activity(session=session, actor=admin, flt=one)).rows
    ] == [other.id]
    stricter = ActivityFilter(period, emergency_target=timedelta(minutes=15))
    strict = await activity.activity(session=session, actor=admin, flt=stricter)
    assert strict.totals().emergency_on_target == 1


async def test_who_sees_what(session: AsyncSession) -> None:
    prov = await factories.facility(session, level=FacilityLevel.provincial)
    elsewhere = await factories.facility(session, level=FacilityLevel.provincial)
    dist = await factories.facility(session, parent=prov)
    doc = await factories.user(session, facility=dist)
    coord = Actor.of(await factories.user(session, facility=prov, role=Role.coordinator))
    outsider = Actor.of(await factories.user(session, facility=elsewhere, role=Role.coordinator))
    await factories.consultation(session, host=prov, requesting=dist)
    flt = ActivityFilter(Period.last_months(1))
    assert (await activity.activity(session=session, actor=coord, flt=flt)).totals().requested == 1
    assert (
        await activity.activity(session=session, actor=outsider, flt=flt)
    ).totals().requested == 0
    with pytest.raises(Forbidden):
        await activity.activity(session=session, actor=Actor.of(doc), flt=flt)
    listed, _ = await activity.behind(
        session=session, actor=coord, flt=flt, figure=Figure.requested
    )
    assert [readable for _, readable in listed] == [True]


def test_periods_are_checked() -> None:
    with pytest.raises(Invalid):
        Period(date(2030, 3, 2), date(2030, 4, 1))
    with pytest.raises(Invalid):
        Period(date(2030, 4, 1), date(2030, 3, 1))
    with pytest.raises(Invalid):
        Period(date(2020, 1, 1), date(2030, 1, 1))
    assert Period.last_months(12, today=date(2030, 2, 14)).months()[0] == "2029-03"
