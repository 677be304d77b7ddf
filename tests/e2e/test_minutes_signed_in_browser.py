"""The minutes in Chromium: the chair fills the form (every field there, the draft autosaved) and
signs, the secretary signs, the signed PDF downloads with the form's content and a valid PAdES
signature; another facility's doctor gets 404 on the minutes and on the PDF."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import factories
import pytest
from aiohttp.test_utils import TestServer
from e2etools import Pages, new_context
from minutestools import PASSWORD, Signing, signing_world
from playwright.async_api import Browser, Dialog, Page
from sqlmodel import SQLModel

from records.db import create_engine, session_maker
from records.models import Role, User
from records.signing import FacilityCertificates, check_pdf, make_demo_certificate
from telemed.app import create_app
from telemed.settings import Settings

pytestmark = pytest.mark.slow


@dataclass
class Site:
    """The running server, its data and where the facilities' certificates are."""

    base_url: str
    w: Signing
    stranger: User
    certs: FacilityCertificates

    @property
    def minutes_url(self) -> str:
        """The minutes page of the world's one case."""
        return f"{self.base_url}/consultations/{self.w.consultation.id}/minutes/{self.w.case.id}"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """A held consultation with a named secretary, the host's certificate installed."""
    (tmp_path / "data").mkdir()
    settings = Settings(data_dir=tmp_path / "data", host="127.0.0.1", port=8080)
    engine = create_engine(settings.effective_database_url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    async with session_maker(engine)() as s:
        w = await signing_world(s)
        w.users["chair"].full_name = "Nguyễn Hữu Phước"
        s.add(w.users["chair"])
        await s.commit()
        other = await factories.facility(s, name="Trung tâm Y tế thị xã Phước Long")
        stranger = await factories.user(s, facility=other, role=Role.doctor)
        stranger.password_hash = w.users["chair"].password_hash
        s.add(stranger)
        await s.commit()
        for user in (*w.users.values(), stranger):
            await s.refresh(user)
    await engine.dispose()
    certs = FacilityCertificates(settings.cert_dir)
    make_demo_certificate(
        certs.path_for(w.host.code), name=w.host.name, code=w.host.code, passphrase=None
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield Site(str(server.make_url("")).rstrip("/"), w, stranger, certs)
    finally:
        await server.close()


async def signed_in(browser: Browser, pages: Pages, site: Site, user: User, label: str) -> Page:
    """A fresh browser profile signed in as this user; confirmation dialogs are accepted."""
    page = pages.add(label, await (await new_context(browser)).new_page())

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.on("dialog", accept)
    await page.goto(f"{site.base_url}/login")
    await page.fill('input[name="username"]', user.username)
    await page.fill('input[name="password"]', PASSWORD)
    async with page.expect_navigation():
        await page.click('form button[type="submit"]')
    assert "/login" not in page.url
    return page


async def test_chair_and_secretary_sign_and_the_pdf_is_the_form(
    browser: Browser, pages: Pages, site: Site, tmp_path: Path
) -> None:
    w = site.w
    chair = await signed_in(browser, pages, site, w.users["chair"], "chair")
    await chair.goto(site.minutes_url)
    main = await chair.inner_text("main")
    # Every part of the form: the header, times and connection points from the call, chair and
    # secretary, the patient block, then the fields the chair writes.
    for part in (
        "Bệnh viện Đa khoa tỉnh",
        "cấp khi hoàn tất",
        "Trung tâm Y tế Chơn Thành",
        w.users["secretary"].display_name,
        "Dân tộc: Tày",
        "070170012345",
        "Khoa Nội",
    ):
        assert part in main, part
    for field in ("place", "reason", "summary", "findings", "conclusion", "treatment_plan"):
        assert await chair.locator(f"#f-{field}").count() == 1, field
    assert await chair.locator("#f-icd10_codes").count() == 1
    assert await chair.locator('select[name^="presence-"]').count() == 4
    guest = chair.locator(f'select[aria-label="Tham dự: {w.users["guest"].display_name}"]')
    assert await guest.input_value() == "guest"
    questions = chair.locator('textarea[name="question"]')
    assert await questions.nth(0).input_value() == "Có cần chụp mạch vành không?"
    assert await questions.nth(1).input_value() == "Chuyển tuyến lúc nào?"

    await chair.fill("#f-answer-0", "Có, chụp trong 24 giờ.")
    await chair.fill("#f-answer-1", "Chuyển ngay khi huyết động ổn định.")
    await chair.fill("#f-conclusion", "Nhồi máu cơ tim không ST chênh lên")
    await chair.fill("#f-icd10_codes", "I21.4, I10")
    await chair.fill("#f-treatment_plan", "Chuyển tuyến can thiệp mạch vành.")
    # The draft saves itself while the chair types.
    await chair.wait_for_function(
        "() => document.getElementById('autosave-status').textContent.includes('Đã tự động lưu')"
    )
    await chair.fill('input[name="password"]', PASSWORD)
    async with chair.expect_navigation():
        await chair.click('button[value="confirm"]')
    assert "chờ người ký còn lại" in await chair.inner_text(".flashes")

    secretary = await signed_in(browser, pages, site, w.users["secretary"], "secretary")
    await secretary.goto(site.minutes_url)
    assert "Chuyển ngay khi huyết động ổn định." in await secretary.inner_text("main")
    await secretary.fill('input[name="password"]', PASSWORD)
    async with secretary.expect_navigation():
        await secretary.click('button[value="confirm"]')
    assert "Đã hoàn tất biên bản" in await secretary.inner_text(".flashes")
    assert "Số: 1/BB-HC" in await secretary.inner_text("main")

    async with secretary.expect_download() as waiting:
        await secretary.click('a:has-text("Tải biên bản PDF đã ký")')
    download = await waiting.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    pdf = saved.read_bytes()
    text = subprocess.run(
        ["pdftotext", "-layout", str(saved), "-"], check=True, capture_output=True, text=True
    ).stdout
    for part in (
        "BỘ Y TẾ",
        "BỆNH VIỆN ĐA KHOA TỈNH",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Số: 1/BB-HC",
        "BIÊN BẢN HỘI CHẨN TỪ XA",
        "Dân tộc: Tày",
        "Số thẻ BHYT: DN4797912345678",
        "Có cần chụp mạch vành không?",
        "Có, chụp trong 24 giờ.",
        "Chuyển tuyến lúc nào?",
        "Chuyển ngay khi huyết động ổn định.",
        "I21.4, I10",
        "THƯ KÝ",
        "CHỦ TRÌ",
        w.users["chair"].display_name,
        w.users["secretary"].display_name,
    ):
        assert part in text, part
    check = await check_pdf(pdf, site.certs.trust_roots(w.host.code))
    assert check.ok, check

    stranger = await signed_in(browser, pages, site, site.stranger, "stranger")
    for url in (site.minutes_url, site.minutes_url + "/pdf"):
        response = await stranger.goto(url)
        assert response is not None and response.status == 404, url
        assert "Trần Thị Bình" not in await stranger.inner_text("body")
