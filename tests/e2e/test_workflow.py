"""The whole consultation in a real Chromium, as its people do it, one browser profile each.

A district doctor registers a patient, prepares the case file with a lab report and a photo and
asks the provincial hospital for a consultation; the coordinator schedules it and invites a
cardiologist; doctor and cardiologist meet in the room; the chair signs the minutes; a doctor of
another district finds nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from e2etools import (
    PASSWORD,
    Pages,
    Person,
    World,
    join,
    log_in,
    new_context,
    peer_id,
    wait_video_from,
    wait_view,
)
from playwright.async_api import Browser, Dialog, FilePayload, Page

from records.localtime import LOCAL_TZ
from telemed.demo import ecg_png, lab_report_pdf

pytestmark = pytest.mark.slow

PATIENT = "Hoàng Thị Bích Ngọc"
CASE_TITLE = "Đau thắt ngực không ổn định, nghi hẹp động mạch vành"
SESSION_TITLE = "Hội chẩn tim mạch: đau thắt ngực không ổn định"
HOST = "Bệnh viện Đa khoa tỉnh Bình Phước"


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()


async def signed_in(browser: Browser, pages: Pages, world: World, person: Person) -> Page:
    """A new browser profile signed in as `person` through the login form."""
    page = pages.add(person.username, await (await new_context(browser)).new_page())
    page.on("dialog", _accept)
    await log_in(page, world, person)
    return page


async def submit(page: Page, button: str) -> None:
    """Press a submit button by its label and wait for the next page."""
    async with page.expect_navigation():
        await page.click(f'main button[type="submit"]:has-text("{button}")')


async def flash_text(page: Page) -> str:
    """The messages shown at the top of the page."""
    return await page.locator(".flashes").inner_text()


async def doctor_prepares_the_case(page: Page, world: World, shots: Path) -> tuple[str, str]:
    """Patient, case file, two attachments, request; returns the case's and session's URLs."""
    # A new patient, found again by a search typed without diacritics.
    await page.click('main a:has-text("Thêm bệnh nhân")')
    await page.fill('input[name="mrn"]', "BN-2026-0153")
    await page.fill('input[name="full_name"]', PATIENT)
    await page.select_option('select[name="sex"]', "female")
    await page.fill('input[name="birth_year"]', "1961")
    await page.fill('input[name="insurance_number"]', "DN4797912345678")
    await page.fill('input[name="address"]', "Ấp 2, xã Minh Hưng, huyện Chơn Thành")
    await submit(page, "Lưu")
    assert PATIENT in await page.inner_text("h1")

    await page.goto(f"{world.base_url}/patients")
    await page.fill("#patient-q", "hoang thi bich ngoc")
    async with page.expect_navigation():
        await page.click('form[role="search"] button[type="submit"]')
    found = page.locator("table a", has_text=PATIENT)
    assert await found.count() == 1
    await page.screenshot(path=str(shots / "workflow-patient-search.png"))
    async with page.expect_navigation():
        await found.click()

    # The case file, with the sections of a case presentation.
    await page.click('main a:has-text("Tạo hồ sơ hội chẩn")')
    await page.fill('input[name="title"]', CASE_TITLE)
    await page.fill('input[name="specialty"]', "Tim mạch")
    await page.select_option('select[name="urgency"]', "urgent")
    summary = {
        "history": "Đau ngực trái kiểu thắt, lan lên vai trái, 3 ngày nay, tăng khi gắng sức. "
        "Tiền sử tăng huyết áp 10 năm, đái tháo đường típ 2.",
        "examination": "Tỉnh, tiếp xúc tốt. Mạch 92 lần/phút, HA 150/90 mmHg. Tim đều, "
        "không âm thổi. Phổi không ran.",
        "results": "Điện tâm đồ: ST chênh xuống V4–V6. Troponin I hs 0 giờ: 18 ng/L, "
        "3 giờ: 46 ng/L.",
        "diagnosis": "Hội chứng vành cấp không ST chênh lên",
        "treatment": "Aspirin 300 mg, clopidogrel 300 mg, enoxaparin 1 mg/kg tiêm dưới da.",
        "question": "Có chỉ định chụp và can thiệp động mạch vành cấp cứu không?",
    }
    for name, text in summary.items():
        await page.fill(f'textarea[name="{name}"]', text)
    await page.fill('input[name="icd10"]', "I20.0")
    await submit(page, "Lưu hồ sơ")
    assert CASE_TITLE in await page.inner_text("h1")
    assert "ST chênh xuống V4–V6" in await page.inner_text("main")

    # A lab report and a photo of the ECG, chosen in the page's upload control.
    sampled = datetime.now(LOCAL_TZ).replace(microsecond=0)
    pdf = lab_report_pdf(patient=PATIENT, born=1961, mrn="BN-2026-0153", when=sampled)
    async with page.expect_navigation():
        await page.set_input_files(
            "#upload-files",
            files=[
                FilePayload(name="xet-nghiem-troponin.pdf", mimeType="application/pdf", buffer=pdf),
                FilePayload(name="dien-tam-do.png", mimeType="image/png", buffer=ecg_png()),
            ],
        )
    cards = page.locator("#attachments .attachment-card")
    await cards.nth(1).wait_for()
    assert await cards.count() == 2
    photo = page.locator('#attachments .attachment-card img[alt="dien-tam-do.png"]')
    await photo.scroll_into_view_if_needed()
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await photo.element_handle()
    )
    await page.screenshot(path=str(shots / "workflow-case-attachments.png"), full_page=True)
    case_url = page.url

    # The lab report opens inline as a PDF.
    async with page.expect_navigation():
        await page.click('#attachments a:has-text("xet-nghiem-troponin.pdf")')
    frame = page.locator("iframe.preview-frame")
    src = await frame.get_attribute("src")
    assert src
    served = await page.request.get(world.base_url + src)
    assert served.status == 200
    assert served.headers["content-type"].startswith("application/pdf")
    assert (await served.body()).startswith(b"%PDF")
    await page.goto(case_url)

    # Sent, then a consultation requested with the provincial hospital.
    await submit(page, "Gửi hồ sơ")
    async with page.expect_navigation():
        await page.click('main a:has-text("Yêu cầu hội chẩn")')
    await page.fill('input[name="title"]', SESSION_TITLE)
    await page.select_option('select[name="host_facility_id"]', label=HOST)
    case_box = page.locator("label.checkbox", has_text=CASE_TITLE).locator("input")
    await case_box.check()
    await page.fill('textarea[name="note"]', "Bệnh nhân đang nằm tại khoa Hồi sức cấp cứu.")
    await submit(page, "Gửi yêu cầu")
    assert SESSION_TITLE in await page.inner_text("h1")
    return case_url, page.url


async def coordinator_schedules(page: Page, world: World, shots: Path) -> datetime:
    """Accept the request from home, schedule it in five minutes, invite the cardiologist."""
    await page.goto(world.base_url + "/")
    async with page.expect_navigation():
        await page.click(f'main a:has-text("{SESSION_TITLE}")')
    async with page.expect_navigation():
        await page.click('main a:has-text("Xếp lịch")')
    start = (datetime.now(LOCAL_TZ) + timedelta(minutes=5)).replace(second=0, microsecond=0)
    await page.fill('input[name="date"]', start.date().isoformat())
    await page.fill('input[name="time"]', start.strftime("%H:%M"))
    await page.select_option('select[name="duration"]', "60")
    await page.select_option('select[name="chair_id"]', str(world.chair.user.id))
    await page.uncheck('input[name="requires_admission"]')
    # Find the cardiologist by name (typed without diacritics) and invite them.
    await page.fill('input[name="q"]', "pham quoc minh")
    await submit(page, "Tìm người")
    invitee = page.locator("label.checkbox", has_text=world.specialist.name).locator("input")
    await invitee.check()
    await submit(page, "Lên lịch")
    # Both are already in another session at that hour: the page says so and asks to confirm.
    conflicts = page.locator(".notice-warning")
    # Two people, each with two other sessions.
    assert "2 người được mời đã có phiên khác trùng giờ" in await conflicts.inner_text()
    assert world.specialist.name in await conflicts.locator(".conflict-list").inner_text()
    assert (
        await page.locator("label.checkbox", has_text=world.specialist.name)
        .locator("input")
        .is_checked()
    )
    await page.screenshot(path=str(shots / "workflow-schedule.png"), full_page=True)
    await page.check('input[name="confirm_conflicts"]')
    await submit(page, "Lên lịch")
    main = await page.inner_text("main")
    assert world.specialist.name in main, main
    assert start.strftime("%H:%M") in main
    return start


async def enter_room_from_home(page: Page, world: World) -> None:
    """Home → the session's active "Vào phòng" button → the room, joined."""
    await page.goto(world.base_url + "/")
    session = page.locator("li.session-item", has_text=SESSION_TITLE)
    button = session.locator('a.button:has-text("Vào phòng")')
    assert await button.get_attribute("aria-disabled") is None
    async with page.expect_navigation():
        await button.click()
    await page.wait_for_function("() => window.telemedRoom !== undefined")
    await join(page)
    await wait_view(page, "call")


async def chair_signs_the_minutes(page: Page, world: World, consultation_url: str) -> str:
    """Draft, then final; returns the minutes' URL."""
    await page.goto(consultation_url)
    async with page.expect_navigation():
        await page.click('main a:has-text("Viết biên bản")')
    # Attendance from the room fills the list of those present.
    for person in (world.doctor, world.specialist):
        presence = page.locator(f'select[aria-label="Tham dự: {person.name}"]')
        assert await presence.input_value() == "member", person.name
    await page.fill('textarea[name="summary"]', "Nữ 65 tuổi, đau thắt ngực 3 ngày, troponin tăng.")
    await page.fill(
        'textarea[name="findings"]',
        f"{world.specialist.name}: điện tâm đồ và động học troponin phù hợp NSTEMI nguy cơ cao.",
    )
    await page.fill('textarea[name="conclusion"]', "Nhồi máu cơ tim không ST chênh lên")
    await page.fill('input[name="icd10_codes"]', "I21.4")
    # One conclusion per question the case asked.
    for answer in await page.locator('textarea[name="answer"]').all():
        question = await answer.evaluate(
            "a => a.previousElementSibling.previousElementSibling.value"
        )
        if question.strip():
            await answer.fill("Có chỉ định chụp động mạch vành sớm.")
    await page.fill(
        'textarea[name="treatment_plan"]', "Chuyển tuyến tỉnh chụp động mạch vành trong 24 giờ."
    )
    await submit(page, "Lưu bản nháp")
    assert "Đã lưu bản nháp biên bản" in await flash_text(page)
    assert await page.input_value('textarea[name="conclusion"]') == (
        "Nhồi máu cơ tim không ST chênh lên"
    )
    await page.fill('input[name="password"]', PASSWORD)
    await submit(page, "Lưu và ký xác nhận")
    assert "Đã hoàn tất biên bản" in await flash_text(page)
    return page.url


async def test_a_case_goes_from_the_district_centre_to_signed_minutes(
    browser: Browser, pages: Pages, world: World, artifacts_dir: Path
) -> None:
    doctor = await signed_in(browser, pages, world, world.doctor)
    case_url, consultation_url = await doctor_prepares_the_case(doctor, world, artifacts_dir)
    assert re.fullmatch(r".*/cases/[0-9a-f-]{36}", case_url)

    coordinator = await signed_in(browser, pages, world, world.chair)
    await coordinator.goto(world.base_url + "/")
    assert SESSION_TITLE in await coordinator.inner_text("main")
    await coordinator.screenshot(path=str(artifacts_dir / "workflow-coordinator-home.png"))
    await coordinator_schedules(coordinator, world, artifacts_dir)

    # Doctor and cardiologist meet; each sees the other's video.
    await enter_room_from_home(doctor, world)
    specialist = await signed_in(browser, pages, world, world.specialist)
    await enter_room_from_home(specialist, world)
    await wait_video_from(doctor, await peer_id(specialist))
    await wait_video_from(specialist, await peer_id(doctor))
    await doctor.screenshot(path=str(artifacts_dir / "workflow-room.png"))
    room_url = doctor.url
    for page in (doctor, specialist):
        await page.click("#control-leave")
        await wait_view(page, "ended")

    minutes_url = await chair_signs_the_minutes(coordinator, world, consultation_url)
    await coordinator.screenshot(path=str(artifacts_dir / "workflow-minutes.png"), full_page=True)
    # Final means read-only, for the chair as for everyone else.
    assert await coordinator.locator("main form textarea").count() == 0
    assert "Đã hoàn tất" in await coordinator.inner_text("h1")
    # Even a hand-made request cannot change it any more.
    token = await coordinator.get_attribute('meta[name="csrf-token"]', "content")
    assert token
    refused = await coordinator.request.post(
        minutes_url,
        form={"csrf_token": token, "action": "save", "conclusion": "Sửa sau khi ký"},
        headers={"X-CSRF-Token": token},
        max_redirects=0,
    )
    assert refused.status == 409, await refused.text()
    await coordinator.reload()
    assert "Sửa sau khi ký" not in await coordinator.inner_text("main")
    await doctor.goto(minutes_url)
    assert "Nhồi máu cơ tim không ST chênh lên" in await doctor.inner_text("main")
    assert await doctor.locator("main form textarea").count() == 0

    # A doctor of another district centre reaches neither the case nor the room.
    stranger = await signed_in(browser, pages, world, world.stranger)
    for url in (case_url, room_url, consultation_url):
        resp = await stranger.goto(url)
        assert resp is not None and resp.status == 404, url
        assert PATIENT not in await stranger.inner_text("body")
