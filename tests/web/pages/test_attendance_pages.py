"""Attendance on the session's page and over the API: one row per person with every interval
and the connection points; another facility gets 404."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import factories
from pagetools import running_site
from sqlalchemy.ext.asyncio import AsyncEngine

from records.models import ConsultationStatus
from records.services import room_events

T0 = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam


async def test_one_row_per_person_on_the_page_and_in_the_api(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with running_site(engine, tmp_path) as site:
        doctor, specialist = site.users["doctor"], site.users["specialist"]
        async with site.sessions() as s:
            patient = await factories.patient(s, facility=site.district)
            case = await factories.case(s, patient=patient, author=doctor, status="scheduled")
            c = await factories.consultation(
                s,
                host=site.province,
                requesting=site.district,
                cases=[case],
                chair=specialist,
                status=ConsultationStatus.scheduled,
            )
            for user, peer, start, end in (
                (specialist, "s1", 0, 50),
                (doctor, "d1", 5, 20),
                (doctor, "d2", 30, 50),
            ):
                await room_events.record_join(
                    session=s,
                    room_id=c.room_id,
                    user_id=user.id,
                    peer_id=peer,
                    at=T0 + timedelta(minutes=start),
                )
                await room_events.record_leave(
                    session=s,
                    room_id=c.room_id,
                    user_id=user.id,
                    peer_id=peer,
                    at=T0 + timedelta(minutes=end),
                )
        await site.login("doctor")
        html = await site.page(f"/consultations/{c.id}")
        rows = re.findall(r'<li class="attendee" data-user-id="([^"]+)"', html)
        assert rows == [str(specialist.id), str(doctor.id)]
        doctor_row = html.split(f'data-user-id="{doctor.id}"', 1)[1].split("</li>", 1)[0]
        assert re.findall(r'<span class="interval[^"]*">([^<]+)</span>', doctor_row) == [
            "08:05–08:20",
            "08:30–08:50",
        ]
        assert "Trình bày ca bệnh" in doctor_row and site.district.name in doctor_row
        points = html.split('class="list-meta connection-points"', 1)[1].split("</p>", 1)[0]
        assert site.province.name in points and site.district.name in points

        resp = await site.client.get(f"/api/v1/consultations/{c.id}/attendance")
        assert resp.status == 200
        items = (await resp.json())["items"]
        assert [i["user_id"] for i in items] == [str(specialist.id), str(doctor.id)]
        assert [i["role"] for i in items] == ["chair", "presenter"]
        assert len(items[1]["intervals"]) == 2

        site.client.session.cookie_jar.clear()
        await site.login("stranger")
        resp = await site.client.get(f"/api/v1/consultations/{c.id}/attendance")
        assert resp.status == 404
        await site.page(f"/consultations/{c.id}", status=404)
