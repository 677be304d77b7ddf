"""Minutes pages: the chair's pre-filled draft, field errors, finalising, read-only afterwards."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import factories
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from webtools import PASSWORD, password_hash

from records.db import session_maker
from records.models import (
    Attendance,
    Consultation,
    FacilityLevel,
    Minutes,
    MinutesStatus,
    ParticipantRole,
    Role,
    User,
)
from records.models.base import utcnow
from records.services import auth as auth_svc
from telemed.app import create_app
from telemed.settings import Settings

Client = TestClient[web.Request, web.Application]


async def app_database_url(engine: AsyncEngine) -> str:
    """The URL the application must use to reach the test's own database (and schema)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            path = (await conn.execute(text("SHOW search_path"))).scalar_one()
        url = url.update_query_dict({"search_path": str(path)})
    return url.render_as_string(hide_password=False)


@dataclass
class Meeting:
    """A consultation that took place, its chair, a specialist who attended, and outsiders."""

    client: Client
    engine: AsyncEngine
    consultation: Consultation
    case_id: str
    chair: User
    specialist: User
    absent: User
    stranger: User

    @property
    def url(self) -> str:
        """The minutes page of the one case."""
        return f"/consultations/{self.consultation.id}/minutes/{self.case_id}"

    async def as_user(self, user: User) -> str:
        """Switch the browser to a session of this user; returns its CSRF token."""
        async with session_maker(self.engine)() as s:
            signed = await auth_svc.create_session(session=s, user=user)
        jar = self.client.session.cookie_jar
        jar.clear()
        jar.update_cookies({"telemed_session": signed.session_id}, self.client.make_url("/"))
        html = await (await self.client.get("/schedule")).text()
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
        assert found is not None
        return found.group(1)

    async def post(self, csrf: str, data: list[tuple[str, str]]) -> Any:
        """Post the minutes form."""
        return await self.client.post(self.url, data=[("csrf_token", csrf), *data])

    async def minutes(self) -> Minutes | None:
        """The stored minutes, straight from the database."""
        async with session_maker(self.engine)() as s:
            row = await s.execute(
                select(Minutes).where(Minutes.consultation_id == self.consultation.id)
            )
            return row.scalar_one_or_none()


@pytest.fixture
async def meeting(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Meeting]:
    """An ended session where the specialist attended and another invitee did not."""
    async with session_maker(engine)() as s:
        province = await factories.facility(s, level=FacilityLevel.provincial)
        district = await factories.facility(s, parent=province)
        other = await factories.facility(s, parent=province)
        chair = await factories.user(
            s, facility=province, role=Role.specialist, full_name="Nguyễn Hữu Phước",
            title="TS.BS.",
        )
        chair.password_hash = password_hash()
        specialist = await factories.user(
            s, facility=province, role=Role.specialist, full_name="Lý Thị Hồng"
        )
        absent = await factories.user(
            s, facility=province, role=Role.specialist, full_name="Mai Văn Khải"
        )
        doctor = await factories.user(s, facility=district)
        stranger = await factories.user(s, facility=other)
        patient = await factories.patient(s, facility=district, full_name="Đinh Thị Lụa")
        case = await factories.case(s, patient=patient, author=doctor, status="scheduled")
        case.diagnosis = "Suy tim EF giảm"
        s.add(case)
        consultation = await factories.consultation(
            s, host=province, requesting=district, cases=[case], chair=chair,
            participants={
                specialist.id: ParticipantRole.specialist,
                absent.id: ParticipantRole.specialist,
            },
        )
        consultation.scheduled_start = utcnow() - timedelta(hours=2)
        consultation.scheduled_end = utcnow() - timedelta(hours=1)
        s.add(consultation)
        for user in (chair, specialist):
            s.add(Attendance(
                consultation_id=consultation.id, user_id=user.id, peer_id=f"p-{user.username}",
                joined_at=utcnow() - timedelta(hours=2), left_at=utcnow() - timedelta(hours=1),
            ))
        await s.commit()
        for obj in (consultation, chair, specialist, absent, stranger, case):
            await s.refresh(obj)
        case_id = str(case.id)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, database_url=await app_database_url(engine))
    client: Client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield Meeting(client, engine, consultation, case_id, chair, specialist, absent, stranger)
    finally:
        await client.close()


def present(html: str, user: User) -> str:
    """How the form lists a person: "member", "guest" or "" (absent)."""
    found = re.search(
        rf'<select name="presence-{user.id}".*?</select>', html, re.S
    )
    assert found is not None, user.full_name
    chosen = re.search(r'<option value="(\w*)" selected>', found.group(0))
    return chosen.group(1) if chosen else ""


def textarea(html: str, name: str) -> str:
    """The text inside a named textarea."""
    found = re.search(rf'<textarea id="f-{name}" name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert found is not None, name
    return found.group(1)


async def test_chair_drafts_then_finalises_and_the_minutes_freeze(meeting: Meeting) -> None:
    m = meeting
    csrf = await m.as_user(m.chair)
    resp = await m.client.get(m.url)
    html = await resp.text()
    assert resp.status == 200
    # Pre-filled: the patient block, the working diagnosis, who was in the room.
    assert "Đinh Thị Lụa" in html
    assert textarea(html, "conclusion") == "Suy tim EF giảm"
    assert present(html, m.specialist) == "member" and present(html, m.absent) == ""
    assert "Bản nháp" in html

    resp = await m.post(
        csrf,
        [("summary", "Tóm tắt đã sửa"), ("findings", "BS. Hồng: đồng ý tăng liều lợi tiểu"),
         ("conclusion", "Suy tim mạn EF giảm, NYHA III"), ("icd10_codes", "i50.1"),
         ("treatment_plan", "Furosemid 40 mg/ngày"), (f"presence-{m.chair.id}", "member"),
         ("action", "save")],
    )
    html = await resp.text()
    assert resp.status == 200 and resp.url.path == m.url
    assert "Đã lưu bản nháp biên bản" in html
    assert textarea(html, "findings") == "BS. Hồng: đồng ý tăng liều lợi tiểu"
    stored = await m.minutes()
    assert stored is not None and stored.status == MinutesStatus.draft
    assert stored.icd10 == "I50.1"
    assert [a["user_id"] for a in stored.attendees] == [str(m.chair.id)]

    # A specialist reads the draft but gets no form.
    await m.as_user(m.specialist)
    resp = await m.client.get(m.url)
    html = await resp.text()
    assert resp.status == 200 and "<textarea" not in html and "Tóm tắt đã sửa" in html

    csrf = await m.as_user(m.chair)
    resp = await m.post(
        csrf,
        [("summary", "Tóm tắt cuối"), ("findings", "Thống nhất"),
         ("conclusion", "Suy tim mạn EF giảm"), ("icd10_codes", "I50.1"),
         ("treatment_plan", "Tái khám sau 2 tuần"), (f"presence-{m.chair.id}", "member"),
         (f"presence-{m.specialist.id}", "guest"), ("action", "confirm"),
         ("password", "không đúng")],
    )
    assert resp.status == 400 and "Mật khẩu không đúng" in await resp.text()
    resp = await m.post(
        csrf,
        [("summary", "Tóm tắt cuối"), ("findings", "Thống nhất"),
         ("conclusion", "Suy tim mạn EF giảm"), ("icd10_codes", "I50.1"),
         ("treatment_plan", "Tái khám sau 2 tuần"), (f"presence-{m.chair.id}", "member"),
         (f"presence-{m.specialist.id}", "guest"), ("action", "confirm"),
         ("password", PASSWORD)],
    )
    html = await resp.text()
    assert resp.status == 200
    assert "Đã hoàn tất biên bản" in html and "Đã hoàn tất" in html
    assert "<textarea" not in html and "Tái khám sau 2 tuần" in html
    assert "TS.BS. Nguyễn Hữu Phước" in html
    stored = await m.minutes()
    assert stored is not None and stored.status == MinutesStatus.final
    assert stored.finalized_by == m.chair.id and stored.number == "1/BB-HC"
    assert [a["guest"] for a in stored.attendees] == [False, True]
    # The form as filed: national motto, number, both signature blocks (the chair keeps the
    # minutes himself here), the guest apart from the members.
    for part in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Số: 1/BB-HC", "THƯ KÝ", "CHỦ TRÌ",
                 "chủ trì kiêm thư ký", "Khách mời", "BIÊN BẢN HỘI CHẨN TỪ XA"):
        assert part in html, part

    # Final means final: another post is refused and changes nothing.
    resp = await m.post(csrf, [("conclusion", "Đổi ý"), ("action", "save")])
    assert resp.status == 409
    assert "Biên bản đã hoàn tất, không thể sửa" in await resp.text()
    stored = await m.minutes()
    assert stored is not None and stored.conclusion == "Suy tim mạn EF giảm"


async def test_finalising_without_a_conclusion_is_a_field_error(meeting: Meeting) -> None:
    m = meeting
    csrf = await m.as_user(m.chair)
    await m.client.get(m.url)
    resp = await m.post(
        csrf,
        [("summary", "Giữ nguyên văn bản này"), ("findings", ""), ("conclusion", "   "),
         ("icd10_codes", ""), ("treatment_plan", "Theo dõi"), ("action", "confirm"),
         ("password", PASSWORD)],
    )
    html = await resp.text()
    assert resp.status == 400
    assert 'class="field-error"' in html and "Cần ghi kết luận" in html
    assert textarea(html, "summary") == "Giữ nguyên văn bản này"
    stored = await m.minutes()
    assert stored is not None and stored.status == MinutesStatus.draft

    resp = await m.post(
        csrf, [("conclusion", "Kết luận"), ("icd10_codes", "I50.1, X1"), ("action", "save")]
    )
    assert resp.status == 400
    assert "Mã ICD-10 không đúng định dạng" in await resp.text()
    # Only participants can be listed: an invented person is refused, nothing is saved.
    resp = await m.post(
        csrf,
        [("conclusion", "Kết luận"), (f"presence-{m.stranger.id}", "member"), ("action", "save")],
    )
    assert resp.status == 400
    assert "Chỉ ghi được người tham gia phiên hội chẩn này" in await resp.text()
    stored = await m.minutes()
    assert stored is not None and stored.conclusion != "Kết luận"


async def test_only_the_chair_writes_and_outsiders_get_404(meeting: Meeting) -> None:
    m = meeting
    # Before the chair opens the minutes there is nothing for others to read.
    await m.as_user(m.specialist)
    assert (await m.client.get(m.url)).status == 404
    chair_csrf = await m.as_user(m.chair)
    assert (await m.client.get(m.url)).status == 200
    # Opening the form stores nothing; the chair's first save does.
    assert await m.minutes() is None
    resp = await m.post(chair_csrf, [("conclusion", "Bản nháp"), ("action", "save")])
    # Saved, then sent back to the form (303), which shows the draft.
    assert [r.status for r in resp.history] == [303] and resp.status == 200
    csrf = await m.as_user(m.specialist)
    resp = await m.post(csrf, [("conclusion", "Không phải chủ tọa"), ("action", "save")])
    assert resp.status == 403
    stored = await m.minutes()
    assert stored is not None and stored.conclusion != "Không phải chủ tọa"
    await m.as_user(m.stranger)
    assert (await m.client.get(m.url)).status == 404
    other_case = m.url.rsplit("/", 1)[0] + "/" + str(m.consultation.id)
    await m.as_user(m.chair)
    assert (await m.client.get(other_case)).status == 404
