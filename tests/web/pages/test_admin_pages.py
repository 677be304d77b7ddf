"""Administration pages: facilities, accounts and their security actions, the audit log."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import factories
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from records.db import session_maker
from records.localtime import LOCAL_TZ
from records.models import Facility, FacilityLevel, Role, User, UserSession
from records.models.base import utcnow
from records.services import auth as auth_svc
from telemed.app import create_app
from telemed.settings import Settings

Client = TestClient[web.Request, web.Application]
NEW_PASSWORD = "Mật khẩu mới an toàn 2025"


async def app_database_url(engine: AsyncEngine) -> str:
    """The URL the application must use to reach the test's own database (and schema)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            path = (await conn.execute(text("SHOW search_path"))).scalar_one()
        url = url.update_query_dict({"search_path": str(path)})
    return url.render_as_string(hide_password=False)


@dataclass
class Site:
    """The real application with an admin, a province and a doctor."""

    client: Client
    engine: AsyncEngine
    admin: User
    doctor: User
    province: Facility

    async def session_of(self, user: User) -> str:
        """A new browser session id for a user."""
        async with session_maker(self.engine)() as s:
            fresh = await s.get(User, user.id)
            assert fresh is not None
            return (await auth_svc.create_session(session=s, user=fresh)).session_id

    async def as_user(self, user: User) -> str:
        """Switch the browser to a session of this user; returns its CSRF token."""
        self.use(await self.session_of(user))
        html = await (await self.client.get("/schedule")).text()
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
        assert found is not None
        return found.group(1)

    def use(self, session_id: str) -> None:
        """Send this session cookie from now on."""
        jar = self.client.session.cookie_jar
        jar.clear()
        jar.update_cookies({"telemed_session": session_id}, self.client.make_url("/"))

    async def post(self, path: str, csrf: str, data: dict[str, str]) -> Any:
        """Post a form with its CSRF field."""
        return await self.client.post(path, data={"csrf_token": csrf, **data})

    async def user_named(self, username: str) -> User:
        """A user straight from the database."""
        async with session_maker(self.engine)() as s:
            row = await s.execute(select(User).where(User.username == username))
            return row.scalar_one()


@pytest.fixture
async def site(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Site]:
    """The application with an admin account."""
    async with session_maker(engine)() as s:
        province = await factories.facility(
            s, level=FacilityLevel.provincial, name="Bệnh viện Đa khoa tỉnh", code="BVT"
        )
        district = await factories.facility(s, parent=province, name="TTYT Bù Đăng")
        admin = await factories.user(
            s, facility=province, role=Role.admin, username="quantri", full_name="Quản Trị"
        )
        doctor = await factories.user(
            s, facility=district, username="bs.budang", full_name="Hồ Văn Lộc"
        )
        for obj in (province, admin, doctor):
            await s.refresh(obj)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, database_url=await app_database_url(engine))
    client: Client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield Site(client, engine, admin, doctor, province)
    finally:
        await client.close()


async def test_facilities_create_with_parent_and_edit(site: Site) -> None:
    csrf = await site.as_user(site.admin)
    resp = await site.post(
        "/admin/facilities/new",
        csrf,
        {"code": "TTYT-HG", "name": "TTYT Hớn Quản", "level": "district",
         "address": "Tân Khai", "parent_id": str(site.province.id)},
    )
    assert resp.status == 200 and resp.url.path == "/admin/facilities"
    html = await resp.text()
    assert "Đã thêm cơ sở TTYT Hớn Quản" in html and "TTYT Hớn Quản" in html

    # A taken code and a parent on the same level are field errors; typed values stay.
    resp = await site.post(
        "/admin/facilities/new",
        csrf,
        {"code": "TTYT-HG", "name": "Trùng mã", "level": "district", "address": "",
         "parent_id": ""},
    )
    html = await resp.text()
    assert resp.status == 409
    assert "Mã cơ sở đã tồn tại" in html and 'value="Trùng mã"' in html
    async with session_maker(site.engine)() as s:
        created = (
            await s.execute(select(Facility).where(Facility.code == "TTYT-HG"))
        ).scalar_one()
        peer = (
            await s.execute(select(Facility).where(Facility.name == "TTYT Bù Đăng"))
        ).scalar_one()
    resp = await site.post(
        f"/admin/facilities/{created.id}",
        csrf,
        {"name": "TTYT huyện Hớn Quản", "address": "", "parent_id": str(peer.id)},
    )
    html = await resp.text()
    assert resp.status == 400
    assert "Cơ sở tuyến trên phải ở tuyến cao hơn" in html
    assert 'value="TTYT huyện Hớn Quản"' in html
    resp = await site.post(
        f"/admin/facilities/{created.id}",
        csrf,
        {"name": "TTYT huyện Hớn Quản", "address": "", "parent_id": ""},
    )
    assert resp.status == 200
    async with session_maker(site.engine)() as s:
        saved = await s.get(Facility, created.id)
        assert saved is not None
        assert saved.name == "TTYT huyện Hớn Quản" and saved.parent_id is None
    missing = await site.client.get("/admin/facilities/00000000-0000-0000-0000-000000000000")
    assert missing.status == 404


async def test_users_create_disable_reset_end_sessions_unlock(site: Site) -> None:
    csrf = await site.as_user(site.admin)
    fields = {
        "username": "bs.lan", "full_name": "Nguyễn Thị Lan", "title": "BS.", "role": "specialist",
        "specialty": "Tim mạch", "email": "", "phone": "", "facility_id": str(site.province.id),
    }
    resp = await site.post("/admin/users/new", csrf, {**fields, "password": "123456"})
    html = await resp.text()
    assert resp.status == 400
    assert 'class="field-error"' in html and 'value="Nguyễn Thị Lan"' in html
    resp = await site.post("/admin/users/new", csrf, {**fields, "username": "ab", "password": ""})
    html = await resp.text()
    assert resp.status == 400 and "Quá ngắn" in html and "Trường này là bắt buộc" in html

    resp = await site.post("/admin/users/new", csrf, {**fields, "password": NEW_PASSWORD})
    assert resp.status == 200, await resp.text()
    assert "Đã tạo tài khoản bs.lan" in await resp.text()
    lan = await site.user_named("bs.lan")
    assert lan.role == Role.specialist and lan.password_hash

    listing = await (await site.client.get("/admin/users?q=lan")).text()
    assert "Nguyễn Thị Lan" in listing and "Hồ Văn Lộc" not in listing

    # Disabling ends every session of the account at once.
    victim = await site.session_of(site.doctor)
    resp = await site.post(f"/admin/users/{site.doctor.id}/active", csrf, {"active": "0"})
    assert resp.status == 200
    assert "Đã khóa tài khoản" in await resp.text()
    async with session_maker(site.engine)() as s:
        left = await s.execute(select(UserSession).where(UserSession.user_id == site.doctor.id))
        assert left.first() is None
    site.use(victim)
    # A signed-out browser asking for a page is sent to the login form.
    signed_out = await site.client.get("/schedule", allow_redirects=False)
    assert signed_out.status == 303 and signed_out.headers["Location"].startswith("/login")
    site.use(await site.session_of(site.admin))
    csrf = await site.as_user(site.admin)
    resp = await site.post(f"/admin/users/{site.doctor.id}/active", csrf, {"active": "1"})
    assert (await site.user_named("bs.budang")).active

    # Ending sessions and resetting the password.
    await site.session_of(site.doctor)
    resp = await site.post(f"/admin/users/{site.doctor.id}/sessions", csrf, {})
    assert "Đã kết thúc 1 phiên đăng nhập" in await resp.text()
    resp = await site.post(f"/admin/users/{site.doctor.id}/password", csrf, {"new_password": "abc"})
    assert resp.status == 400 and 'id="f-new_password-error"' in await resp.text()
    resp = await site.post(
        f"/admin/users/{site.doctor.id}/password", csrf, {"new_password": NEW_PASSWORD}
    )
    assert resp.status == 200 and "Đã đặt lại mật khẩu" in await resp.text()
    assert (await site.user_named("bs.budang")).password_hash

    # Unlocking an account locked by failed sign-ins.
    async with session_maker(site.engine)() as s:
        locked = await s.get(User, site.doctor.id)
        assert locked is not None
        locked.locked_at = utcnow()
        s.add(locked)
        await s.commit()
    page = await (await site.client.get(f"/admin/users/{site.doctor.id}")).text()
    assert "Mở khóa đăng nhập" in page
    resp = await site.post(f"/admin/users/{site.doctor.id}/unlock", csrf, {})
    assert resp.status == 200 and (await site.user_named("bs.budang")).locked_at is None

    # An admin cannot lock themself out.
    resp = await site.post(f"/admin/users/{site.admin.id}/active", csrf, {"active": "0"})
    assert resp.status == 409
    assert (await site.user_named("quantri")).active

    # Editing keeps typed values on error.
    resp = await site.post(
        f"/admin/users/{lan.id}",
        csrf,
        {**fields, "full_name": "L", "specialty": "Nội tim mạch"},
    )
    html = await resp.text()
    assert resp.status == 400 and 'value="Nội tim mạch"' in html


async def test_audit_log_filters_and_export_link(site: Site) -> None:
    csrf = await site.as_user(site.admin)
    await site.post(f"/admin/users/{site.doctor.id}/sessions", csrf, {})
    resp = await site.client.get("/admin/audit?action=admin")
    html = await resp.text()
    assert resp.status == 200
    assert "Quản trị" in html and "quantri" in html
    # People and objects by name, their ids on hover.
    assert f'title="{site.doctor.id}">{escape(site.doctor.display_name)}</span>' in html
    assert f"{site.admin.username} · {site.admin.id}" in html
    assert f"<code>{str(site.doctor.id)[:8]}</code>" not in html
    today = datetime.now(LOCAL_TZ).date()
    link = re.search(r'href="(/api/v1/audit\.csv[^"]*)"', html)
    assert link is not None and "action=admin" in link.group(1)
    csv = await site.client.get(link.group(1).replace("&amp;", "&"))
    assert csv.status == 200 and "end-sessions" in await csv.text()
    # Tomorrow onwards: nothing yet.
    later = (today + timedelta(days=1)).isoformat()
    html = await (await site.client.get(f"/admin/audit?since={later}")).text()
    assert "Không có sự kiện nào phù hợp" in html
    bad = await site.client.get("/admin/audit?since=hôm qua&user_id=xyz")
    html = await bad.text()
    assert bad.status == 400 and "Ngày không hợp lệ" in html and 'value="hôm qua"' in html


async def test_non_admins_are_refused(site: Site) -> None:
    await site.as_user(site.doctor)
    for path in ("/admin/users", "/admin/facilities", "/admin/audit", "/admin/users/new"):
        assert (await site.client.get(path)).status == 403, path
    csrf = await site.as_user(site.doctor)
    resp = await site.post(f"/admin/users/{site.admin.id}/active", csrf, {"active": "0"})
    assert resp.status == 403
    assert (await site.user_named("quantri")).active


async def test_garbage_admin_input_gets_a_4xx(site: Site) -> None:
    csrf = await site.as_user(site.admin)
    cases: list[tuple[str, dict[str, str]]] = [
        ("/admin/facilities/new", {"code": "", "name": "", "level": "vũ trụ", "parent_id": "x"}),
        (f"/admin/facilities/{site.province.id}", {"name": "x" * 500, "parent_id": "không"}),
        ("/admin/users/new", {"role": "vua", "facility_id": "?", "password": "x" * 500}),
        (f"/admin/users/{site.doctor.id}", {"role": "", "facility_id": "abc", "email": "x" * 300}),
        (f"/admin/users/{uuid.uuid4()}/unlock", {}),
    ]
    for path, data in cases:
        resp = await site.post(path, csrf, data)
        assert 400 <= resp.status < 500, (path, resp.status)
    for path in ("/admin/audit?offset=-3&user_id=&action=bay", "/admin/users?facility_id=zz"):
        assert (await site.client.get(path)).status < 500, path
    async with session_maker(site.engine)() as s:
        doctor = await s.get(User, site.doctor.id)
        assert doctor is not None and doctor.role == Role.doctor
