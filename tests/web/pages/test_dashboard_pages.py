"""The activity dashboard's pages: figures, charts as SVG images, CSV, the list behind a
figure, the filter's errors, and who may open it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import factories
import pytest
from pagetools import Site, running_site
from sqlalchemy.ext.asyncio import AsyncEngine

from records.localtime import LOCAL_TZ
from records.models import ConsultationStatus, Urgency, utcnow


@pytest.fixture
async def site(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Site]:
    async with running_site(engine, tmp_path) as s:
        async with s.sessions() as session:
            patient = await factories.patient(session, facility=s.district)
            doctor = s.users["doctor"]
            heart = await factories.case(session, patient=patient, author=doctor)
            heart.specialty, heart.urgency = "Tim mạch", Urgency.emergency
            session.add(heart)
            for status in (ConsultationStatus.ended, ConsultationStatus.cancelled):
                c = await factories.consultation(
                    session, host=s.province, requesting=s.district, cases=[heart], status=status
                )
                c.title = f"Hội chẩn {status}"
                c.scheduled_at = c.created_at + timedelta(minutes=10)
                session.add(c)
            await session.commit()
        yield s


def month_now() -> str:
    return utcnow().astimezone(LOCAL_TZ).strftime("%Y-%m")


async def test_the_coordinator_reads_the_figures_and_the_list_behind(site: Site) -> None:
    await site.login("coordinator")
    page = await site.page("/dashboard")
    assert 'data-figure="requested">2<' in page
    assert 'data-figure="held">1<' in page and 'data-figure="cancelled">1<' in page
    assert 'data-figure="emergency_missed">0<' in page
    assert "Trung tâm Y tế huyện Chơn Thành" in page and "Tim mạch" in page
    # The charts are images the page links to, drawn on the server.
    for chart in re.findall(r'<img src="([^"]+\.svg[^"]*)"', page):
        resp = await site.client.get(chart.replace("&amp;", "&"))
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        svg = await resp.text()
        assert svg.lstrip().startswith("<svg") and "<script" not in svg
    assert "Đã hủy" in await (await site.client.get("/dashboard/charts/months.svg")).text()
    listed = await site.page(f"/dashboard/list?figure=held&month={month_now()}")
    assert "Hội chẩn ended" in listed and "Hội chẩn cancelled" not in listed
    csv = await site.client.get("/dashboard/activity.csv")
    body = (await csv.read()).decode("utf-8")
    assert body.startswith("\ufeff") and "Trung tâm Y tế huyện Chơn Thành" in body
    assert f"{month_now()},Trung tâm Y tế huyện Chơn Thành,2,1,1,2,2" in body


async def test_filters_and_their_errors(site: Site) -> None:
    await site.login("admin")
    page = await site.page("/dashboard?specialty=H%C3%B4+h%E1%BA%A5p")
    assert 'data-figure="requested">0<' in page
    bad = await site.page("/dashboard?since=2026-13", status=400)
    assert "Tháng không hợp lệ" in bad
    reversed_ = await site.page("/dashboard?since=2026-05&until=2026-01", status=400)
    assert "Tháng kết thúc phải sau tháng bắt đầu" in reversed_
    assert (await site.client.get("/dashboard/charts/other.svg")).status == 404
    outside = await site.client.get("/dashboard/list?since=2026-01&until=2026-02&month=2027-01")
    assert outside.status == 400


async def test_doctors_and_specialists_may_not(site: Site) -> None:
    for who in ("doctor", "specialist"):
        await site.login(who)
        assert "/dashboard" not in await site.page("/")
        for path in ("/dashboard", "/dashboard/activity.csv", "/dashboard/charts/months.svg"):
            assert (await site.client.get(path)).status == 403, (who, path)
