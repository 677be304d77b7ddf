"""Home per role, and the patient pages: search without diacritics, create, edit, detail."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import factories
import pytest
from pagetools import Site, field_error, field_value, running_site
from sqlalchemy.ext.asyncio import AsyncEngine

from records.models import ConsultationStatus, ParticipantRole
from records.models.base import utcnow


@pytest.fixture
async def site(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Site]:
    """The application with people of three facilities."""
    async with running_site(engine, tmp_path) as running:
        yield running


async def _consultation(site: Site, minutes_ahead: int, title: str) -> str:
    async with site.sessions() as s:
        patient = await factories.patient(s, facility=site.district)
        case = await factories.case(
            s, patient=patient, author=site.users["doctor"], status="scheduled"
        )
        c = await factories.consultation(
            s,
            host=site.province,
            requesting=site.district,
            cases=[case],
            chair=site.users["coordinator"],
            participants={site.users["specialist"].id: ParticipantRole.specialist},
            title=title,
        )
        c.scheduled_start = utcnow() + timedelta(minutes=minutes_ahead)
        c.scheduled_end = c.scheduled_start + timedelta(hours=1)
        s.add(c)
        await s.commit()
        return str(c.id)


@pytest.mark.parametrize(
    ("who", "expected", "absent"),
    [
        ("doctor", ["Bệnh nhân", "Hồ sơ hội chẩn", "Phiên hội chẩn sắp tới của tôi"], []),
        ("coordinator", ["Yêu cầu chờ tiếp nhận", "Hồ sơ gần đây"], ["Thêm bệnh nhân"]),
        ("specialist", ["Phiên hội chẩn sắp tới của tôi"], ['href="/patients"']),
        ("admin", ["Quản trị hệ thống"], ['href="/patients"', "Hồ sơ gần đây"]),
    ],
)
async def test_each_role_gets_its_home(
    site: Site, who: str, expected: list[str], absent: list[str]
) -> None:
    await site.login(who)
    html = await site.page("/")
    for text in expected:
        assert text in html, text
    for text in absent:
        assert text not in html, text
    assert 'aria-current="page"' in html


async def test_the_join_button_opens_ten_minutes_before_the_start(site: Site) -> None:
    soon = await _consultation(site, 5, "Hội chẩn sắp bắt đầu")
    later = await _consultation(site, 120, "Hội chẩn buổi chiều")
    await site.login("specialist")
    html = await site.page("/")
    assert "Hội chẩn sắp bắt đầu" in html and "Hội chẩn buổi chiều" in html
    active = re.search(rf'<a class="button" href="/consultations/{soon}/room">', html)
    assert active is not None
    waiting = re.search(
        rf'<a class="button" href="/consultations/{later}/room" aria-disabled="true"'
        r' tabindex="-1" data-join-from="([^"]+)">',
        html,
    )
    assert waiting is not None
    assert "data-countdown=" in html
    # The sooner session is listed first.
    assert html.index("Hội chẩn sắp bắt đầu") < html.index("Hội chẩn buổi chiều")


async def test_requests_waiting_for_the_coordinator_are_listed(site: Site) -> None:
    async with site.sessions() as s:
        patient = await factories.patient(s, facility=site.district)
        case = await factories.case(s, patient=patient, author=site.users["doctor"])
        c = await factories.consultation(
            s,
            host=site.province,
            requesting=site.district,
            cases=[case],
            status=ConsultationStatus.requested,
            title="Xin ý kiến về ca suy thận",
        )
        c.requested_by = site.users["doctor"].id
        s.add(c)
        await s.commit()
    await site.login("coordinator")
    assert "Xin ý kiến về ca suy thận" in await site.page("/")
    await site.client.post("/logout", data={"csrf_token": await site.csrf()})
    await site.login("doctor")
    html = await site.page("/")
    assert "Yêu cầu đang chờ xếp lịch" in html and "Xin ý kiến về ca suy thận" in html


async def test_patient_search_ignores_diacritics(site: Site) -> None:
    async with site.sessions() as s:
        await factories.patient(s, facility=site.district, full_name="Nguyễn Thị Hồng Đào")
        await factories.patient(s, facility=site.district, full_name="Trần Văn Minh")
        await factories.patient(s, facility=site.other, full_name="Nguyễn Văn Khác")
    await site.login("doctor")
    html = await site.page("/patients?q=nguyen+thi+hong+dao")
    assert "Nguyễn Thị Hồng Đào" in html and "Trần Văn Minh" not in html
    # Another facility's patients never show up.
    html = await site.page("/patients?q=nguyen")
    assert "Nguyễn Văn Khác" not in html
    html = await site.page("/patients")
    assert "Trần Văn Minh" in html and "2 bệnh nhân" in html
    assert "Không tìm thấy bệnh nhân nào" in await site.page("/patients?q=zzz")


async def test_a_new_patient_with_errors_comes_back_with_what_was_typed(site: Site) -> None:
    await site.login("doctor")
    await site.page("/patients/new")
    status, html, _ = await site.post(
        "/patients",
        {
            "mrn": "BN-2024-0153",
            "full_name": "V",
            "sex": "female",
            "birth_date": "",
            "birth_year": "1962",
            "insurance_number": "",
            "address": "Ấp 3, xã Minh Hưng",
            "phone": "",
        },
    )
    assert status == 400
    assert field_error(html, "full_name") == "Quá ngắn (tối thiểu 2 ký tự)"
    assert field_value(html, "mrn") == "BN-2024-0153"
    assert field_value(html, "birth_year") == "1962"
    assert field_value(html, "address") == "Ấp 3, xã Minh Hưng"
    assert '<option value="female" selected>' in html
    async with site.sessions() as s:
        from sqlmodel import select

        from records.models import Patient

        rows = (await s.execute(select(Patient))).scalars().all()
        assert rows == []


async def test_a_patient_needs_a_birth_date_or_year(site: Site) -> None:
    await site.login("doctor")
    status, html, _ = await site.post(
        "/patients", {"mrn": "BN1", "full_name": "Võ Ánh", "sex": "female"}
    )
    assert status == 400
    assert field_error(html, "birth_year") == "Cần nhập ngày sinh hoặc năm sinh"


async def test_a_future_birth_date_is_refused_under_its_field(site: Site) -> None:
    await site.login("doctor")
    status, html, _ = await site.post(
        "/patients",
        {"mrn": "BN2", "full_name": "Võ Ánh", "sex": "female", "birth_date": "2999-01-01"},
    )
    assert status == 400
    assert field_error(html, "birth_date") == "Ngày sinh không thể ở tương lai"
    assert field_error(html, "birth_year") is None


async def test_a_doctor_creates_edits_and_reads_a_patient(site: Site) -> None:
    await site.login("doctor")
    status, _, location = await site.post(
        "/patients",
        {
            "mrn": "BN-2024-0153",
            "full_name": "Võ  Thị Ngọc Ánh",
            "sex": "female",
            "birth_year": "1962",
            "insurance_number": "dn4797912345678",
        },
    )
    assert status == 303 and location is not None
    html = await site.page(location)
    assert "Đã thêm bệnh nhân Võ Thị Ngọc Ánh" in html
    assert "DN4797912345678" in html and "1962" in html
    status, _, _ = await site.post(
        location, {"full_name": "Võ Thị Ngọc Ánh", "sex": "female", "birth_date": "1962-05-04"}
    )
    assert status == 303
    assert "04/05/1962" in await site.page(location)
    # The record number must stay unique at a facility.
    status, html, _ = await site.post(
        "/patients",
        {"mrn": "BN-2024-0153", "full_name": "Người khác", "sex": "male", "birth_year": "1990"},
    )
    assert status == 400
    assert field_error(html, "mrn") == "Mã bệnh nhân đã tồn tại tại cơ sở này"


async def test_another_facility_cannot_reach_a_patient(site: Site) -> None:
    async with site.sessions() as s:
        patient = await factories.patient(s, facility=site.district, full_name="Hoàng Thị Mai")
    await site.login("stranger")
    for path in (f"/patients/{patient.id}", f"/patients/{patient.id}/edit", "/patients/not-an-id"):
        html = await site.page(path, status=404)
        assert "Hoàng Thị Mai" not in html
        assert "Không tìm thấy" in html
    status, html, _ = await site.post(
        f"/patients/{patient.id}", {"full_name": "Đổi tên", "sex": "male", "birth_year": "1970"}
    )
    assert status == 404


async def test_only_doctors_register_patients(site: Site) -> None:
    await site.login("coordinator")
    await site.page("/patients/new", status=403)
    status, _, _ = await site.post(
        "/patients", {"mrn": "X1", "full_name": "Ai đó", "sex": "male", "birth_year": "1990"}
    )
    assert status == 403


async def test_a_form_without_the_csrf_token_is_refused_and_saves_nothing(site: Site) -> None:
    await site.login("doctor")
    status, html, _ = await site.post(
        "/patients",
        {"mrn": "BN9", "full_name": "Lý Thị Chín", "sex": "female", "birth_year": "1980"},
        token="",
    )
    assert status == 403
    assert "CSRF" in html
    assert "Lý Thị Chín" not in await site.page("/patients")


async def test_long_patient_lists_are_paged(site: Site) -> None:
    async with site.sessions() as s:
        for i in range(30):
            await factories.patient(s, facility=site.district, full_name=f"Bệnh nhân {i:02d}")
    await site.login("doctor")
    first = await site.page("/patients?q=benh+nhan")
    assert "1–25 trên 30" in first
    assert "Bệnh nhân 24" in first and "Bệnh nhân 25" not in first
    assert 'href="/patients?q=benh+nhan&amp;offset=25"' in first
    second = await site.page("/patients?q=benh+nhan&offset=25")
    assert "26–30 trên 30" in second and "Bệnh nhân 29" in second
    assert 'rel="prev" href="/patients?q=benh+nhan"' in second


async def test_a_malformed_insurance_number_is_marked_on_its_field(site: Site) -> None:
    await site.login("doctor")
    status, html, _ = await site.post(
        "/patients",
        {
            "mrn": "BN7",
            "full_name": "Đặng Văn Bảy",
            "sex": "male",
            "birth_year": "1950",
            "insurance_number": "12345",
        },
    )
    assert status == 400
    assert field_error(html, "insurance_number") == "Không đúng định dạng"
    assert field_value(html, "insurance_number") == "12345"
    assert field_value(html, "full_name") == "Đặng Văn Bảy"


async def test_the_patient_form_asks_ethnicity_occupation_and_citizen_id(site: Site) -> None:
    await site.login("doctor")
    html = await site.page("/patients/new")
    assert '<option value="01">Kinh</option>' in html and '<option value="54">Rơ-măm</option>'
    fields = {
        "mrn": "BN-2024-0200",
        "full_name": "Lò Thị Xoan",
        "sex": "female",
        "birth_year": "1975",
        "ethnicity": "03",
        "occupation": "Làm ruộng",
        "citizen_id": "014175001234",
    }
    status, html, _ = await site.post("/patients", {**fields, "citizen_id": "014075001234"})
    assert status == 400
    assert field_error(html, "citizen_id") == "Số CCCD không khớp với giới tính (chữ số thứ 4)"
    assert '<option value="03" selected>Thái</option>' in html
    assert field_value(html, "occupation") == "Làm ruộng"
    status, html, _ = await site.post("/patients", {**fields, "citizen_id": "01417500123"})
    assert status == 400
    assert field_error(html, "citizen_id") == "Số CCCD gồm đúng 12 chữ số"
    status, _, location = await site.post("/patients", fields)
    assert status == 303 and location is not None
    html = await site.page(location)
    assert "Thái" in html and "Làm ruộng" in html and "014175001234" in html
