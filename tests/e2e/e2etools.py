"""Helpers of the end-to-end tests: the test world, signing in, waiting on the room."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import factories
from playwright.async_api import Browser, BrowserContext, Page
from sqlmodel import SQLModel

import records.models  # noqa: F401  (registers every table)
from records import passwords
from records.db import create_engine, session_maker
from records.models import (
    Consultation,
    ConsultationStatus,
    FacilityLevel,
    ParticipantRole,
    Role,
    User,
)
from records.models.base import utcnow

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Hội chẩn trực tuyến 2024"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_MS = 30_000

MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
COMMON_ARGS = [
    # Two contexts of one browser talk over the loopback interface in some sandboxes.
    "--allow-loopback-in-peer-connection",
    "--disable-gpu",
    "--no-first-run",
    "--mute-audio",
]


@dataclass
class Person:
    """A user of the test world with the password to sign in."""

    user: User
    username: str
    name: str


@dataclass
class World:
    """The running server and its data."""

    base_url: str
    chair: Person
    specialist: Person
    doctor: Person
    stranger: Person
    room: Consultation
    open_room: Consultation

    def room_url(self, consultation: Consultation) -> str:
        """The room page of a consultation."""
        return f"{self.base_url}/consultations/{consultation.id}/room"


@dataclass
class Pages:
    """Every page a test opens, for screenshots on failure."""

    items: list[tuple[str, Page]] = field(default_factory=list)

    def add(self, label: str, page: Page) -> Page:
        """Track a page under a label."""
        self.items.append((label, page))
        return page


async def seed(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    hashed = passwords.hash_password(PASSWORD)
    out: dict[str, Any] = {}
    async with session_maker(engine)() as s:
        province = await factories.facility(
            s, level=FacilityLevel.provincial, name="Bệnh viện Đa khoa tỉnh Bình Phước"
        )
        district = await factories.facility(
            s, level=FacilityLevel.district, name="Trung tâm Y tế huyện Chơn Thành", parent=province
        )
        other = await factories.facility(
            s,
            level=FacilityLevel.district,
            name="Trung tâm Y tế thị xã Phước Long",
            parent=province,
        )
        people = {
            "chair": await factories.user(
                s,
                facility=province,
                role=Role.coordinator,
                username="dieuphoi",
                full_name="Lê Thị Hoa",
                title="ThS. BS.",
            ),
            "specialist": await factories.user(
                s,
                facility=province,
                role=Role.specialist,
                username="chuyengia",
                full_name="Phạm Quốc Minh",
                title="BSCKII",
                specialty="Tim mạch",
            ),
            "doctor": await factories.user(
                s,
                facility=district,
                role=Role.doctor,
                username="bacsi",
                full_name="Trần Văn Bình",
                title="BS.",
            ),
            "stranger": await factories.user(
                s,
                facility=other,
                role=Role.doctor,
                username="nguoingoai",
                full_name="Đỗ Văn Nam",
                title="BS.",
            ),
        }
        for u in people.values():
            u.password_hash = hashed
            s.add(u)
        await s.commit()
        patient = await factories.patient(s, facility=district, full_name="Nguyễn Thị Lan")
        case = await factories.case(s, patient=patient, author=people["doctor"], status="submitted")
        start = utcnow() - timedelta(minutes=5)
        rooms = {}
        for key, admission in (("room", True), ("open_room", False)):
            c = await factories.consultation(
                s,
                host=province,
                requesting=district,
                cases=[case],
                chair=people["chair"],
                participants={people["specialist"].id: ParticipantRole.specialist},
                status=ConsultationStatus.scheduled,
                title="Hội chẩn tim mạch: đau ngực" if admission else "Hội chẩn tim mạch: theo dõi",
            )
            c.scheduled_start = start
            c.scheduled_end = start + timedelta(hours=1)
            c.requires_admission = admission
            s.add(c)
            await s.commit()
            await s.refresh(c)
            rooms[key] = c
        for key, u in people.items():
            await s.refresh(u)
            out[key] = Person(user=u, username=u.username, name=u.display_name)
        out.update(rooms)
    await engine.dispose()
    return out


# Asks the room page for `window.telemedRoom` (web/static/room/testhook.js); run before it loads.
TEST_HOOK = "window.telemedTestHook = true;"


async def new_context(browser: Browser) -> BrowserContext:
    """A fresh profile (its own cookies) at the size of a clinic screen, in Vietnamese, whose
    room pages expose their test hook."""
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    ctx.set_default_timeout(WAIT_MS)
    await ctx.add_init_script(TEST_HOOK)
    return ctx


async def log_in(page: Page, world: World, person: Person) -> None:
    """Sign in through the login form."""
    await page.goto(f"{world.base_url}/login")
    await page.fill('input[name="username"]', person.username)
    await page.fill('input[name="password"]', PASSWORD)
    async with page.expect_navigation():
        await page.click('form button[type="submit"]')
    assert "/login" not in page.url, await page.inner_text("body")


async def open_room(
    browser: Browser,
    pages: Pages,
    world: World,
    person: Person,
    consultation: Consultation,
    *,
    label: str,
    init_script: str | None = None,
) -> Page:
    """A new context signed in as `person`, on the room's pre-join screen with the camera on;
    `init_script` runs in every page of the context before its own scripts."""
    ctx = await new_context(browser)
    if init_script:
        await ctx.add_init_script(init_script)
    page = pages.add(label, await ctx.new_page())
    await log_in(page, world, person)
    await page.goto(world.room_url(consultation))
    await page.wait_for_function("() => window.telemedRoom !== undefined")
    return page


async def join(page: Page) -> None:
    """Press "Vào phòng" once the preview is ready."""
    await page.wait_for_selector("#join-button:not([disabled])")
    await page.click("#join-button")


async def wait_view(page: Page, view: str) -> None:
    """Wait until the room shows one of its views: prejoin, lobby, call or ended."""
    await page.wait_for_function("v => window.telemedRoom.view === v", arg=view)


async def peer_id(page: Page) -> str:
    """This page's peer id in the room."""
    await page.wait_for_function("() => Boolean(window.telemedRoom.peerId)")
    return str(await page.evaluate("window.telemedRoom.peerId"))


async def wait_video_from(page: Page, remote: str) -> None:
    """Wait until the tile of `remote` plays video: frames decoded and the clock running."""
    await page.wait_for_function(
        """async (id) => {
            const stats = await window.telemedRoom.inboundVideo();
            return stats.some((s) => s.peerId === id && s.framesDecoded > 0);
        }""",
        arg=remote,
        polling=250,
    )
    tile_video = f'.tile[data-peer-id="{remote}"] video'
    await page.wait_for_function(
        "sel => { const v = document.querySelector(sel); return v && v.videoWidth > 0; }",
        arg=tile_video,
    )
    start = await page.evaluate("sel => document.querySelector(sel).currentTime", tile_video)
    await page.wait_for_function(
        "([sel, t]) => document.querySelector(sel).currentTime > t", arg=[tile_video, start]
    )
