"""The outcome in a real Chromium: after the minutes are final, the district doctor reports
what became of the patient on the case page, and the consultant reads it on the session's
page."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2etools import Pages, World, log_in, new_context
from playwright.async_api import Browser, Page
from sqlmodel import select

from records.actor import Actor
from records.db import create_engine, session_maker
from records.models import ConsultationCase, MinutesUpdate
from records.services import minutes as minutes_svc
from telemed.settings import Settings

pytestmark = pytest.mark.slow

CONCLUSION = "Nhồi máu cơ tim không ST chênh lên"
NOTE = "Đã chuyển Bệnh viện Chợ Rẫy chụp động mạch vành"


async def _final_minutes(world: World, tmp_path: Path) -> str:
    """The chair's final minutes about the seeded case (the form itself is tested elsewhere);
    returns the case id."""
    url = Settings(data_dir=tmp_path / "data").effective_database_url
    engine = create_engine(url)
    try:
        async with session_maker(engine)() as s:
            link = (
                await s.execute(
                    select(ConsultationCase).where(
                        ConsultationCase.consultation_id == world.room.id
                    )
                )
            ).scalar_one()
            chair = Actor.of(world.chair.user)
            await minutes_svc.save_draft(
                session=s,
                consultation_id=world.room.id,
                case_id=link.case_id,
                data=MinutesUpdate(conclusion=CONCLUSION, treatment_plan="Chuyển tuyến trên"),
                actor=chair,
            )
            await minutes_svc.finalize(
                session=s, consultation_id=world.room.id, case_id=link.case_id, actor=chair
            )
            return str(link.case_id)
    finally:
        await engine.dispose()


async def _signed_in(browser: Browser, pages: Pages, world: World, who: str) -> Page:
    person = getattr(world, who)
    page = pages.add(who, await (await new_context(browser)).new_page())
    await log_in(page, world, person)
    return page


async def test_the_doctor_reports_the_outcome_and_the_consultant_sees_it(
    browser: Browser, pages: Pages, world: World, tmp_path: Path, artifacts_dir: Path
) -> None:
    case_id = await _final_minutes(world, tmp_path)
    doctor = await _signed_in(browser, pages, world, "doctor")
    await doctor.goto(f"{world.base_url}/cases/{case_id}")
    section = doctor.locator("#outcome")
    assert CONCLUSION in await section.inner_text()
    assert await section.locator("a", has_text="Xem biên bản").count() == 1

    # Transferred without saying where: refused next to the field, nothing kept.
    await section.locator('select[name="kind"]').select_option("transferred")
    async with doctor.expect_navigation():
        await section.locator('button[type="submit"]').click()
    assert "Vui lòng ghi rõ diễn biến" in await doctor.locator("#outcome").inner_text()

    section = doctor.locator("#outcome")
    await section.locator('select[name="kind"]').select_option("transferred")
    await section.locator('textarea[name="note"]').fill(NOTE)
    async with doctor.expect_navigation():
        await section.locator('button[type="submit"]').click()
    assert "Đã ghi kết quả sau hội chẩn" in await doctor.locator(".flashes").inner_text()
    shown = await doctor.locator("#outcome .outcome").inner_text()
    assert "Chuyển tuyến" in shown and NOTE in shown
    await doctor.locator("#outcome").screenshot(path=str(artifacts_dir / "case-outcome.png"))

    specialist = await _signed_in(browser, pages, world, "specialist")
    await specialist.goto(f"{world.base_url}/consultations/{world.room.id}")
    follow = specialist.locator(f'.follow-up[data-case-id="{case_id}"]')
    text = await follow.inner_text()
    assert CONCLUSION in text and "Chuyển tuyến" in text and NOTE in text
