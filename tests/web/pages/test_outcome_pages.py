"""The outcome on the pages: the requesting doctor reports it on the case page (errors next to
the fields), the consultants see it on the consultation page, an overdue one is flagged on the
doctor's home page; another facility gets 404."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import factories
from pagetools import running_site
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from records.actor import Actor
from records.localtime import to_local
from records.models import (
    CaseOutcome,
    ConsultationStatus,
    Minutes,
    MinutesUpdate,
    utcnow,
)
from records.services import minutes as minutes_svc


async def test_outcome_reported_on_the_case_page_and_seen_by_the_consultant(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with running_site(engine, tmp_path) as site:
        doctor, specialist = site.users["doctor"], site.users["specialist"]
        async with site.sessions() as s:
            patient = await factories.patient(s, facility=site.district, full_name="Đinh Thị Lụa")
            case = await factories.case(s, patient=patient, author=doctor, status="scheduled")
            consultation = await factories.consultation(
                s,
                host=site.province,
                requesting=site.district,
                cases=[case],
                chair=specialist,
                status=ConsultationStatus.ended,
                title="Hội chẩn suy tim",
            )
            consultation.requested_by = doctor.id
            consultation.started_at = utcnow() - timedelta(hours=2)
            s.add(consultation)
            await s.commit()
            await minutes_svc.save_draft(
                session=s,
                consultation_id=consultation.id,
                case_id=case.id,
                data=MinutesUpdate(conclusion="Suy tim EF giảm, NYHA III"),
                actor=Actor.of(specialist),
            )
            await minutes_svc.finalize(
                session=s,
                consultation_id=consultation.id,
                case_id=case.id,
                actor=Actor.of(specialist),
            )
        case_url = f"/cases/{case.id}"
        post_url = f"/consultations/{consultation.id}/outcomes/{case.id}"
        minutes_url = f"/consultations/{consultation.id}/minutes/{case.id}"

        await site.login("doctor")
        html = await site.page(case_url)
        assert "Suy tim EF giảm, NYHA III" in html and minutes_url in html
        assert 'name="kind"' in html and "outcome-overdue" not in html
        home = await site.page("/")
        assert f'data-case-id="{case.id}"' not in home

        # The overdue flag: the minutes were finalised more than the set 7 days ago.
        async with site.sessions() as s:
            m = (await s.execute(select(Minutes))).scalar_one()
            m.finalized_at = utcnow() - timedelta(days=8)
            s.add(m)
            await s.commit()
        home = await site.page("/")
        assert f'data-case-id="{case.id}"' in home and "Quá hạn" in home
        assert "outcome-overdue" in await site.page(case_url)

        today = to_local(utcnow()).date()
        status, body, _ = await site.post(
            post_url, {"kind": "changed", "outcome_date": today.isoformat(), "note": ""}
        )
        assert status == 400 and "Vui lòng ghi rõ diễn biến" in body
        status, body, _ = await site.post(
            post_url,
            {"kind": "died", "outcome_date": (today + timedelta(days=1)).isoformat()},
        )
        assert status == 400 and "không thể ở tương lai" in body
        async with site.sessions() as s:
            assert (await s.execute(select(CaseOutcome))).first() is None

        status, _, location = await site.post(
            post_url,
            {
                "kind": "transferred",
                "outcome_date": today.isoformat(),
                "note": "Chuyển Bệnh viện Chợ Rẫy",
            },
        )
        assert status == 303 and location == case_url + "#outcome"
        html = await site.page(case_url)
        assert "Chuyển tuyến" in html and "Chuyển Bệnh viện Chợ Rẫy" in html
        assert "Ghi kết quả sau hội chẩn" in html  # the history line
        assert f'data-case-id="{case.id}"' not in await site.page("/")

        await site.client.post("/logout", data={"csrf_token": await site.csrf()})
        site.client.session.cookie_jar.clear()
        await site.login("specialist")
        detail = await site.page(f"/consultations/{consultation.id}")
        assert "Chuyển tuyến" in detail and "Chuyển Bệnh viện Chợ Rẫy" in detail
        assert 'name="kind"' not in await site.page(case_url)
        status, _, _ = await site.post(
            post_url, {"kind": "died", "outcome_date": today.isoformat()}
        )
        assert status == 403

        site.client.session.cookie_jar.clear()
        await site.login("stranger")
        await site.page(case_url, status=404)
        status, body, _ = await site.post(
            post_url, {"kind": "died", "outcome_date": today.isoformat()}
        )
        assert status == 404 and "Chợ Rẫy" not in body
        async with site.sessions() as s:
            assert len((await s.execute(select(CaseOutcome))).all()) == 1
