"""The real application on a test database, with people of three facilities, for page tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from html import unescape
from pathlib import Path
from typing import Any

import factories
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from records import passwords
from records.db import SessionMaker, session_maker
from records.models import Facility, FacilityLevel, Role, User
from telemed.app import create_app
from telemed.settings import Settings

PASSWORD = "Khám bệnh từ xa 2024"
Client = TestClient[web.Request, web.Application]


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One argon2 hash for every test user (hashing is slow on purpose)."""
    return passwords.hash_password(PASSWORD)


def csrf_of(html: str) -> str:
    """The CSRF token a page hands to its forms."""
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return unescape(found.group(1))


def field_error(html: str, name: str) -> str | None:
    """The error shown under a form field, if any."""
    found = re.search(rf'<p class="field-error" id="f-{name}-error">([^<]*)</p>', html)
    return unescape(found.group(1)) if found else None


def field_value(html: str, name: str) -> str | None:
    """The value an input or textarea of a form shows."""
    found = re.search(rf'<input id="f-{name}" name="{name}"[^>]*?value="([^"]*)"', html)
    if found:
        return unescape(found.group(1))
    found = re.search(rf'<textarea id="f-{name}" name="{name}"[^>]*>([^<]*)</textarea>', html, re.S)
    return unescape(found.group(1)) if found else None


@dataclass
class Site:
    """A running application and the people and facilities in it."""

    client: Client
    engine: AsyncEngine
    sessions: SessionMaker
    province: Facility
    district: Facility
    other: Facility
    users: dict[str, User] = field(default_factory=dict)

    async def page(self, path: str, status: int = 200) -> str:
        """GET a page and check its status."""
        resp = await self.client.get(path)
        text = await resp.text()
        assert resp.status == status, f"{path}: {resp.status}\n{text[:2000]}"
        return text

    async def csrf(self) -> str:
        """A CSRF token for the current browser session."""
        return csrf_of(await self.page("/account" if self.signed_in else "/login"))

    @property
    def signed_in(self) -> bool:
        """Whether the client holds a session cookie."""
        return any(c.key == "telemed_session" for c in self.client.session.cookie_jar)

    async def login(self, who: str) -> User:
        """Sign in through the login form."""
        user = self.users[who]
        token = csrf_of(await self.page("/login"))
        resp = await self.client.post(
            "/login",
            data={"username": user.username, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
        )
        assert resp.status == 303, await resp.text()
        return user

    async def post(
        self, path: str, data: dict[str, str], *, token: str | None = None
    ) -> tuple[int, str, str | None]:
        """POST a form with the session's CSRF token; (status, body, Location)."""
        form = {**data, "csrf_token": token if token is not None else await self.csrf()}
        resp = await self.client.post(path, data=form, allow_redirects=False)
        return resp.status, await resp.text(), resp.headers.get("Location")


async def database_url(engine: AsyncEngine) -> str:
    """The URL of the engine's database, with the test's own PostgreSQL schema.

    The engine's URL no longer names the schema (it went into the connection settings), so an
    app built from it would work in the default schema instead of the test's.
    """
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    async with engine.connect() as conn:
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
    return engine.url.update_query_dict({"search_path": str(schema)}).render_as_string(
        hide_password=False
    )


async def build_site(engine: AsyncEngine, tmp_path: Path, **settings: Any) -> tuple[Site, Client]:
    """Start the app on the engine's database with a province, two districts and their staff.

    ``settings`` override the application's settings (e.g. the render limits).
    """
    sessions = session_maker(engine)
    hashed = password_hash()
    async with sessions() as s:
        province = await factories.facility(
            s, level=FacilityLevel.provincial, name="Bệnh viện Đa khoa tỉnh Bình Phước"
        )
        district = await factories.facility(
            s, parent=province, name="Trung tâm Y tế huyện Chơn Thành"
        )
        other = await factories.facility(
            s, parent=province, name="Trung tâm Y tế thị xã Phước Long"
        )
        people = {
            "doctor": (district, Role.doctor, "Nguyễn Thị Lan"),
            "stranger": (other, Role.doctor, "Lê Văn Hùng"),
            "coordinator": (province, Role.coordinator, "Phạm Minh Tuấn"),
            "specialist": (province, Role.specialist, "Trần Quốc Bảo"),
            "admin": (province, Role.admin, "Đỗ Thu Hà"),
        }
        users: dict[str, User] = {}
        for key, (fac, role, name) in people.items():
            u = await factories.user(s, facility=fac, role=role, username=key, full_name=name)
            u.password_hash = hashed
            s.add(u)
            users[key] = u
        await s.commit()
        for obj in (province, district, other, *users.values()):
            await s.refresh(obj)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = Settings(data_dir=data_dir, database_url=await database_url(engine), **settings)
    client: Client = TestClient(TestServer(create_app(config)))
    await client.start_server()
    site = Site(client, engine, sessions, province, district, other, users)
    return site, client


@asynccontextmanager
async def running_site(engine: AsyncEngine, tmp_path: Path, **settings: Any) -> AsyncIterator[Site]:
    """The real application with a district doctor, a stranger, provincial staff and an admin."""
    built, client = await build_site(engine, tmp_path, **settings)
    try:
        yield built
    finally:
        await client.close()
