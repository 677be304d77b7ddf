"""The consultations overview: requests waiting, then what is coming, then the latest past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factories
from sqlalchemy.ext.asyncio import AsyncSession

from records.actor import Actor
from records.models import ConsultationStatus, FacilityLevel, Role
from records.services import consultations, queues

T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)


async def test_overview_order_and_a_long_history(session: AsyncSession) -> None:
    prov = await factories.facility(session, level=FacilityLevel.provincial)
    dist = await factories.facility(session, parent=prov)
    coordinator = Actor.of(await factories.user(session, facility=prov, role=Role.coordinator))

    async def made(title: str, status: ConsultationStatus, start: datetime | None) -> str:
        c = await factories.consultation(
            session, host=prov, requesting=dist, status=status, title=title
        )
        c.scheduled_start = start
        c.scheduled_end = start + timedelta(hours=1) if start else None
        session.add(c)
        await session.commit()
        return title

    # Two hundred and fifty sessions of last year: more than the overview shows.
    for day in range(250):
        await made(f"cũ {day}", ConsultationStatus.ended, T0 - timedelta(days=400 - day))
    past_late = await made("tuần trước", ConsultationStatus.ended, T0 - timedelta(days=7))
    past_early = await made("tháng trước", ConsultationStatus.cancelled, T0 - timedelta(days=30))
    later = await made("tuần sau", ConsultationStatus.scheduled, T0 + timedelta(days=7))
    sooner = await made("ngày mai", ConsultationStatus.scheduled, T0 + timedelta(days=1))
    waiting = await made("chờ xếp lịch", ConsultationStatus.requested, None)

    shown = [
        i.consultation.title for i in await queues.overview(session=session, actor=coordinator)
    ]
    assert len(shown) == 200
    assert shown[:5] == [waiting, sooner, later, past_late, past_early]
    # The oldest of last year are what falls off, not this week's.
    assert "cũ 0" not in shown and "cũ 249" in shown

    # The API's list keeps the agenda's order: soonest scheduled first.
    page = await consultations.list_consultations(
        session=session, actor=coordinator, status=ConsultationStatus.scheduled
    )
    assert [c.title for c in page.items] == [sooner, later]
