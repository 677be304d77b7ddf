"""Case file pages: create and edit the clinical summary, status and history, access."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import factories
import pytest
from pagetools import Site, field_error, field_value, running_site
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from records.models import Case, ParticipantRole, Patient

SUMMARY = {
    "title": "Suy tim mạn NYHA III, đợt cấp",
    "specialty": "Tim mạch",
    "urgency": "urgent",
    "history": "Khó thở tăng dần 2 tuần,\nphù hai chân.",
    "examination": "Mạch 110 l/p, HA 100/60 mmHg, ran ẩm hai đáy phổi.",
    "results": "NT-proBNP 8500 pg/mL; siêu âm tim EF 30%.",
    "diagnosis": "Suy tim mạn đợt cấp",
    "icd10": "i50.0",
    "treatment": "Furosemid 40 mg tĩnh mạch.",
    "question": "Có chỉ định chuyển tuyến để đặt máy tạo nhịp không?",
}


@pytest.fixture
async def site(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Site]:
    """The application with people of three facilities."""
    async with running_site(engine, tmp_path) as running:
        yield running


async def _patient(site: Site) -> Patient:
    async with site.sessions() as s:
        return await factories.patient(s, facility=site.district, full_name="Hoàng Thị Mai")


async def test_a_doctor_opens_a_case_file_with_the_presentation_structure(site: Site) -> None:
    patient = await _patient(site)
    await site.login("doctor")
    form = await site.page(f"/cases/new?patient={patient.id}")
    for label in (
        "Bệnh sử, tiền sử",
        "Khám lâm sàng",
        "Cận lâm sàng đã có",
        "Chẩn đoán sơ bộ",
        "Mã ICD-10",
        "Điều trị đã thực hiện",
        "Câu hỏi cho hội chẩn",
    ):
        assert label in form, label
    assert "Hoàng Thị Mai" in form
    status, _, location = await site.post("/cases", {**SUMMARY, "patient_id": str(patient.id)})
    assert status == 303 and location is not None
    html = await site.page(location)
    assert "Đã tạo hồ sơ hội chẩn" in html
    assert "Suy tim mạn NYHA III, đợt cấp" in html and "Hoàng Thị Mai" in html
    assert "ICD-10 I50.0" in html and "Khẩn" in html
    assert "Khó thở tăng dần 2 tuần,\nphù hai chân." in html
    assert "Nháp" in html and "Tạo hồ sơ" in html
    assert 'id="upload"' in html and "/api/v1/cases/" in html


async def test_case_errors_come_back_next_to_their_fields_with_what_was_typed(site: Site) -> None:
    patient = await _patient(site)
    await site.login("doctor")
    status, html, _ = await site.post(
        "/cases", {**SUMMARY, "title": "ab", "patient_id": str(patient.id)}
    )
    assert status == 400
    assert field_error(html, "title") == "Quá ngắn (tối thiểu 3 ký tự)"
    assert field_value(html, "history") == SUMMARY["history"]
    assert field_value(html, "question") == SUMMARY["question"]
    assert '<option value="urgent" selected>' in html
    status, html, _ = await site.post("/cases", {**SUMMARY, "patient_id": ""})
    assert status == 400
    assert field_error(html, "patient_id") == "Vui lòng chọn bệnh nhân"
    async with site.sessions() as s:
        assert (await s.execute(select(Case))).scalars().all() == []


async def test_a_case_is_edited_submitted_and_its_history_kept(site: Site) -> None:
    patient = await _patient(site)
    await site.login("doctor")
    _, _, location = await site.post("/cases", {**SUMMARY, "patient_id": str(patient.id)})
    assert location is not None
    case_id = location.rsplit("/", 1)[1]
    edit = await site.page(f"/cases/{case_id}/edit")
    assert field_value(edit, "examination") == SUMMARY["examination"]
    status, _, _ = await site.post(
        f"/cases/{case_id}", {**SUMMARY, "diagnosis": "Suy tim mạn, nghi block nhĩ thất"}
    )
    assert status == 303
    status, _, _ = await site.post(f"/cases/{case_id}/status", {"to": "submitted"})
    assert status == 303
    html = await site.page(location)
    assert "Đã gửi hồ sơ" in html
    assert "Suy tim mạn, nghi block nhĩ thất" in html
    assert "Sửa hồ sơ" in html and "Đổi trạng thái" in html
    assert "Nháp → Đã gửi" in html
    assert "BS. Nguyễn Thị Lan" in html
    # A status the machine does not allow is a clear refusal, not a 500.
    status, html, _ = await site.post(f"/cases/{case_id}/status", {"to": "discussed"})
    assert status == 400
    status, html, _ = await site.post(f"/cases/{case_id}/status", {"to": "closed"})
    assert status == 303
    status, html, _ = await site.post(f"/cases/{case_id}/status", {"to": "draft"})
    assert status == 409
    assert "Không thể chuyển hồ sơ" in html


async def test_a_closed_case_cannot_be_edited(site: Site) -> None:
    patient = await _patient(site)
    async with site.sessions() as s:
        case = await factories.case(
            s, patient=patient, author=site.users["doctor"], status="closed"
        )
    await site.login("doctor")
    html = await site.page(f"/cases/{case.id}")
    assert "Sửa hồ sơ" not in html and 'id="upload"' not in html
    status, html, _ = await site.post(f"/cases/{case.id}", SUMMARY)
    assert status == 400
    assert "không thể sửa" in html


async def test_only_the_author_s_own_steps_are_offered(site: Site) -> None:
    patient = await _patient(site)
    async with site.sessions() as s:
        draft = await factories.case(s, patient=patient, author=site.users["doctor"])
        scheduled = await factories.case(
            s, patient=patient, author=site.users["doctor"], status="scheduled"
        )
    await site.login("doctor")
    assert 'name="to" value="submitted"' in await site.page(f"/cases/{draft.id}")
    # A scheduled case moves with its session, not by hand.
    html = await site.page(f"/cases/{scheduled.id}")
    assert 'name="to"' not in html


async def test_cases_are_listed_and_filtered(site: Site) -> None:
    patient = await _patient(site)
    async with site.sessions() as s:
        await factories.case(
            s, patient=patient, author=site.users["doctor"], title="Viêm phổi nặng"
        )
        await factories.case(
            s,
            patient=patient,
            author=site.users["doctor"],
            title="Đái tháo đường",
            status="submitted",
        )
    await site.login("doctor")
    html = await site.page("/cases")
    assert "Viêm phổi nặng" in html and "Đái tháo đường" in html
    html = await site.page("/cases?status=submitted")
    assert "Viêm phổi nặng" not in html and "Đái tháo đường" in html
    html = await site.page(f"/patients/{patient.id}")
    assert "Viêm phổi nặng" in html and "Tạo hồ sơ hội chẩn" in html


async def test_another_facility_and_uninvited_specialists_get_not_found(site: Site) -> None:
    patient = await _patient(site)
    async with site.sessions() as s:
        case = await factories.case(s, patient=patient, author=site.users["doctor"])
    for who in ("stranger", "specialist"):
        site.client.session.cookie_jar.clear()
        await site.login(who)
        for path in (f"/cases/{case.id}", f"/cases/{case.id}/edit"):
            html = await site.page(path, status=404)
            assert "Hoàng Thị Mai" not in html and "Không tìm thấy" in html
        status, _, _ = await site.post(f"/cases/{case.id}", SUMMARY)
        assert status == 404
        status, _, _ = await site.post(f"/cases/{case.id}/status", {"to": "submitted"})
        assert status == 404
    async with site.sessions() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None and stored.status == "draft"


async def test_an_invited_specialist_reads_the_case_but_cannot_edit_it(site: Site) -> None:
    patient = await _patient(site)
    async with site.sessions() as s:
        case = await factories.case(
            s, patient=patient, author=site.users["doctor"], status="scheduled"
        )
        await factories.consultation(
            s,
            host=site.province,
            requesting=site.district,
            cases=[case],
            participants={site.users["specialist"].id: ParticipantRole.specialist},
        )
    await site.login("specialist")
    html = await site.page(f"/cases/{case.id}")
    assert "Hoàng Thị Mai" in html
    assert "Sửa hồ sơ" not in html and 'id="upload"' not in html
    await site.page(f"/cases/{case.id}/edit", status=403)
