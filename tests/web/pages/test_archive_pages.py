"""The archive download: the host's coordinator gets a ZIP that verifies, and the button on the
session's page; the requesting doctor, a specialist and another facility get 404."""

from __future__ import annotations

from pathlib import Path

import factories
from minutestools import sign
from pagetools import PASSWORD, running_site
from sqlalchemy.ext.asyncio import AsyncEngine

from records.actor import Actor
from records.archive import verify_archive
from records.models import ConsultationStatus, MinutesUpdate
from records.services import minutes as minutes_svc


async def test_archive_download_for_the_record_keepers_only(
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
                status=ConsultationStatus.ended,
            )
            await minutes_svc.save_draft(
                session=s,
                consultation_id=c.id,
                case_id=case.id,
                data=MinutesUpdate(conclusion="Viêm phổi cộng đồng"),
                actor=Actor.of(specialist),
            )
            await sign(s, c.id, case.id, Actor.of(specialist), password=PASSWORD)
        url = f"/consultations/{c.id}/archive.zip"

        await site.login("coordinator")
        assert url in await site.page(f"/consultations/{c.id}")
        resp = await site.client.get(url)
        assert resp.status == 200 and resp.content_type == "application/zip"
        saved = tmp_path / "archive.zip"
        saved.write_bytes(await resp.read())
        check = verify_archive(saved)
        assert check.ok and check.files >= 5, check.problems

        # The facility's admin finds it on the archives screen and may download it too.
        site.client.session.cookie_jar.clear()
        await site.login("admin")
        assert url in await site.page("/admin/archives")
        assert (await site.client.get(url)).status == 200

        for who in ("specialist", "doctor", "stranger"):
            site.client.session.cookie_jar.clear()
            await site.login(who)
            resp = await site.client.get(url)
            assert resp.status == 404, who
            if who != "stranger":
                assert url not in await site.page(f"/consultations/{c.id}")
