"""Screenshots of the demo world, for the user guide and for reviewing the pages by eye.

    .venv/bin/python tests/e2e/screens.py            # the guide's screenshots
    .venv/bin/python tests/e2e/screens.py --survey   # every page, desktop and phone, plus a report

Runs the real application on 127.0.0.1 over a fresh SQLite data directory seeded with
``telemed.demo.seed_demo`` and drives Debian's Chromium with a fake camera. Everything is written
under ``test-artifacts/`` (ignored by git); the guide's images in ``docs/img/`` are copies of
``test-artifacts/guide/``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

# Run as a script: make the test helpers and the project importable as under pytest.
HERE = Path(__file__).resolve().parent
for extra in (HERE, HERE.parent, HERE.parents[1]):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from aiohttp.test_utils import TestServer  # noqa: E402
from e2etools import (  # noqa: E402
    ARTIFACTS,
    CHROMIUM,
    COMMON_ARGS,
    MEDIA_ARGS,
    TEST_HOOK,
    WAIT_MS,
    join,
    peer_id,
    wait_video_from,
    wait_view,
)
from PIL import Image  # noqa: E402
from playwright.async_api import (  # noqa: E402
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    async_playwright,
)
from sqlmodel import select  # noqa: E402

from records.blobs import BlobStore  # noqa: E402
from records.db import create_engine, session_maker  # noqa: E402
from records.localtime import LOCAL_TZ  # noqa: E402
from records.migrate import upgrade  # noqa: E402
from records.models import Case, Consultation  # noqa: E402
from records.services.auth import hash_password  # noqa: E402
from telemed.app import create_app  # noqa: E402
from telemed.demo import seed_demo  # noqa: E402
from telemed.settings import Settings  # noqa: E402

DEMO_PASSWORD = "Hoichan-Demo-2024"
MAX_BYTES = 150_000
DESKTOP = ViewportSize(width=1366, height=768)
PHONE = ViewportSize(width=390, height=844)
# Demo accounts by role, as telemed.demo creates them.
DOCTOR = "bs.chonthanh"
COORDINATOR = "dieuphoi.tinh"
CHAIR = "cs.timmach"
NEURO_CHAIR = "cs.thankinh"
ADMIN = "admin"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Saver(Protocol):
    """Takes a named screenshot of a page."""

    async def __call__(self, page: Page, name: str, *, full_page: bool = False) -> None: ...


@dataclass
class Demo:
    """The running demo server and the ids the screenshots need."""

    base_url: str
    chest_case: str
    chest_consultation: str
    stroke_case: str
    stroke_consultation: str
    pending_consultation: str


@asynccontextmanager
async def demo_server(data_dir: Path) -> AsyncIterator[Demo]:
    """The application over a freshly migrated and seeded demo database."""
    settings = Settings(data_dir=data_dir, host="127.0.0.1", port=8080)
    url = settings.effective_database_url
    await upgrade(url)
    engine = create_engine(url)
    try:
        await seed_demo(
            session_maker=session_maker(engine),
            blobs=BlobStore(settings.blob_dir),
            password=DEMO_PASSWORD,
            hash_password=hash_password,
            history_months=12,
        )
        async with session_maker(engine)() as s:
            consultations = (await s.execute(select(Consultation))).scalars().all()
            by_title = {c.title.split(":")[0]: c for c in consultations}
            cases = {c.title: c for c in (await s.execute(select(Case))).scalars().all()}
    finally:
        await engine.dispose()
    chest = by_title["Hội chẩn tim mạch"]
    stroke = by_title["Hội chẩn khẩn thần kinh"]
    pending = by_title["Hội chẩn tiêu hóa"]

    def first_case(word: str) -> str:
        return next(str(c.id) for title, c in cases.items() if word in title.lower())

    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield Demo(
            base_url=str(server.make_url("")).rstrip("/"),
            chest_case=first_case("đau ngực"),
            chest_consultation=str(chest.id),
            stroke_case=first_case("nhồi máu não"),
            stroke_consultation=str(stroke.id),
            pending_consultation=str(pending.id),
        )
    finally:
        await server.close()


async def signed_in(
    browser: Browser, base_url: str, username: str, *, viewport: ViewportSize = DESKTOP
) -> Page:
    """A new context (its own cookies) signed in through the login form."""
    ctx: BrowserContext = await browser.new_context(viewport=viewport, locale="vi-VN")
    ctx.set_default_timeout(WAIT_MS)
    await ctx.add_init_script(TEST_HOOK)
    page = await ctx.new_page()
    await page.goto(f"{base_url}/login")
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', DEMO_PASSWORD)
    async with page.expect_navigation():
        await page.click('form button[type="submit"]')
    if "/login" in page.url:
        raise RuntimeError(f"cannot sign in as {username}: {await page.inner_text('main')}")
    return page


async def shot(page: Page, path: Path, *, full_page: bool = False) -> None:
    """A PNG of the page as it is now, after fonts and images settled."""
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(path), full_page=full_page)


def compact(path: Path, limit: int = MAX_BYTES) -> None:
    """Rewrite a screenshot with a 256-colour palette when it is heavier than `limit`."""
    if path.stat().st_size <= limit:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


# --- the guide -----------------------------------------------------------------------------


async def guide(browser: Browser, demo: Demo, out: Path) -> list[Path]:
    """The screenshots embedded in docs/user-guide.md."""
    out.mkdir(parents=True, exist_ok=True)
    base = demo.base_url
    made: list[Path] = []

    async def save(page: Page, name: str, *, full_page: bool = False) -> None:
        target = out / f"{name}.png"
        await shot(page, target, full_page=full_page)
        compact(target)
        made.append(target)

    ctx = await browser.new_context(viewport=DESKTOP, locale="vi-VN")
    login = await ctx.new_page()
    await login.goto(f"{base}/login")
    await login.fill('input[name="username"]', DOCTOR)
    await save(login, "login")
    await ctx.close()

    doctor = await signed_in(browser, base, DOCTOR)
    await save(doctor, "doctor-home")
    await doctor.goto(f"{base}/patients?q=dieu+thi+hen")
    await save(doctor, "patients-search")
    await doctor.goto(f"{base}/cases/{demo.chest_case}")
    await save(doctor, "case-file")
    # The attachments with a little of the summary above them.
    await doctor.evaluate(
        "window.scrollTo(0, document.getElementById('attachments').offsetTop - 120)"
    )
    await save(doctor, "case-attachments")
    dicom = doctor.locator(".attachment-card a.thumb").first
    await dicom.click()
    await doctor.wait_for_load_state()
    await save(doctor, "dicom-preview")

    coordinator = await signed_in(browser, base, COORDINATOR)
    await save(coordinator, "coordinator-home")
    await coordinator.goto(f"{base}/consultations/{demo.pending_consultation}/schedule")
    imaging = coordinator.locator("label.checkbox", has_text="Hoàng Thị Lan Anh").locator("input")
    await imaging.check()
    await coordinator.evaluate(
        "window.scrollTo(0, document.querySelector('main fieldset').offsetTop - 16)"
    )
    await save(coordinator, "coordinator-schedule")
    # The week of tomorrow's session.
    tomorrow = datetime.now(LOCAL_TZ).date() + timedelta(days=1)
    monday = tomorrow - timedelta(days=tomorrow.weekday())
    await coordinator.goto(f"{base}/schedule?week={monday.isoformat()}")
    await save(coordinator, "agenda")
    await coordinator.goto(f"{base}/dashboard")
    await save(coordinator, "dashboard", full_page=True)

    await room_screens(browser, demo, save)

    chair = await signed_in(browser, base, NEURO_CHAIR)
    await chair.goto(f"{base}/consultations/{demo.stroke_consultation}/minutes/{demo.stroke_case}")
    await save(chair, "minutes-final")
    heart_chair = await signed_in(browser, base, CHAIR)
    await heart_chair.goto(
        f"{base}/consultations/{demo.chest_consultation}/minutes/{demo.chest_case}"
    )
    await save(heart_chair, "minutes-draft")

    admin = await signed_in(browser, base, ADMIN)
    await admin.goto(f"{base}/admin/users")
    await save(admin, "admin-users")
    await admin.goto(f"{base}/admin/audit")
    await save(admin, "admin-audit")
    return made


async def room_screens(
    browser: Browser, demo: Demo, save: Saver, *, viewport: ViewportSize = DESKTOP
) -> None:
    """The chest pain session: the chair and the presenting doctor in the call."""
    room_url = f"{demo.base_url}/consultations/{demo.chest_consultation}/room"
    chair = await signed_in(browser, demo.base_url, CHAIR, viewport=viewport)
    await chair.goto(room_url)
    await chair.wait_for_function("() => window.telemedRoom !== undefined")
    await chair.wait_for_selector("#join-button:not([disabled])")
    await chair.wait_for_function("() => document.getElementById('prejoin-level').value > 0.2")
    await save(chair, "room-prejoin")
    await join(chair)
    await wait_view(chair, "call")
    doctor = await signed_in(browser, demo.base_url, DOCTOR, viewport=viewport)
    await doctor.goto(room_url)
    await doctor.wait_for_function("() => window.telemedRoom !== undefined")
    await join(doctor)
    await doctor.wait_for_function(
        "() => ['lobby', 'joined'].includes(window.telemedRoom.signalingState)"
    )
    if await doctor.evaluate("window.telemedRoom.signalingState") == "lobby":
        await chair.click('.side-tab[data-tab="lobby"]')
        await save(chair, "room-lobby")
        waiting = chair.locator("#lobby-list .person").first
        await waiting.locator('[data-action="admit"]').click()
    await wait_view(doctor, "call")
    await wait_video_from(chair, await peer_id(doctor))
    await wait_video_from(doctor, await peer_id(chair))
    await chair.click('.side-tab[data-tab="people"]')
    await save(chair, "room-call")
    await doctor.click('.side-tab[data-tab="case"]')
    await save(doctor, "room-casefile")
    for page in (doctor, chair):
        await page.context.close()


# --- the survey ----------------------------------------------------------------------------

# Words that give away an untranslated string in the Vietnamese interface.
ENGLISH = set(
    """the and of to is are not no with for from you your please save cancel edit delete file
    files upload search name date time status user users case cases patient patients
    consultation consultations minutes room join leave draft final admin facility facilities
    error page next previous back home login logout password account submit request requested
    scheduled ended cancelled live open closed new add remove none loading download view show
    hide settings doctor specialist coordinator imaging document photo lab dicom chair invitee
    presenter observer participant submitted active disabled yes true false null undefined
    monday tuesday wednesday thursday friday saturday sunday today tomorrow week am pm""".split()
)
SKIP_LINKS = ("/logout", "/lang/", "/file", ".ics", "/static/", "/api/", "/room", "/ws/")


def pattern(path: str) -> str:
    """A page's route shape: ids replaced, so each kind of page is surveyed once."""
    parts = urlsplit(UUID_RE.sub("{id}", path))
    keys = sorted({item.split("=")[0] for item in parts.query.split("&") if item})
    return parts.path + ("?" + "&".join(keys) if keys else "")


async def page_problems(page: Page) -> list[str]:
    """Horizontal overflow and suspect English words on the page as shown."""
    found: list[str] = []
    overflow = await page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const out = [];
            if (document.documentElement.scrollWidth > width + 1)
                out.push(`page scrolls sideways: ${document.documentElement.scrollWidth}px`);
            for (const el of document.querySelectorAll('main *, header *')) {
                const r = el.getBoundingClientRect();
                if (r.width && r.right > width + 1 && !el.closest('.table-wrap')) {
                    const cls = el.className ? '.' + el.className : '';
                    const name = el.tagName.toLowerCase() + cls;
                    out.push(`sticks out ${Math.round(r.right - width)}px: ${name}`);
                }
            }
            return out.slice(0, 8);
        }"""
    )
    found.extend(overflow)
    texts: list[str] = await page.evaluate(
        """() => {
            const out = [document.body.innerText];
            for (const el of document.querySelectorAll('[placeholder],[title],[aria-label],[alt]'))
                for (const a of ['placeholder', 'title', 'aria-label', 'alt'])
                    if (el.getAttribute(a)) out.push(el.getAttribute(a));
            for (const el of document.querySelectorAll('[data-text-started],[data-confirm]'))
                for (const a of el.getAttributeNames())
                    if (a.startsWith('data-text') || a === 'data-confirm')
                        out.push(el.getAttribute(a));
            out.push(document.title);
            return out;
        }"""
    )
    for text in texts:
        for line in text.splitlines():
            words = re.findall(r"[A-Za-z]+", line)
            hits = [w for w in words if w.lower() in ENGLISH]
            if hits and not re.search(r"[À-ỹĐđ]", line):
                found.append(f"english? {line.strip()[:100]!r}")
    return sorted(set(found), key=found.index)


async def survey(browser: Browser, demo: Demo, out: Path) -> str:
    """Every page each demo role reaches from home, at clinic and phone size: shots and notes."""
    out.mkdir(parents=True, exist_ok=True)
    report: list[str] = []
    extra = {
        DOCTOR: [
            f"/cases/{demo.chest_case}",
            f"/consultations/{demo.chest_consultation}",
            "/patients?q=nguyen",
            "/no-such-page",
        ],
        COORDINATOR: [
            f"/consultations/{demo.pending_consultation}",
            f"/consultations/{demo.pending_consultation}/schedule",
        ],
        CHAIR: [f"/consultations/{demo.chest_consultation}/minutes/{demo.chest_case}"],
        NEURO_CHAIR: [f"/consultations/{demo.stroke_consultation}/minutes/{demo.stroke_case}"],
        ADMIN: [],
    }
    seen: set[str] = set()
    for username, starts in extra.items():
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page = await signed_in(browser, demo.base_url, username, viewport=viewport)
            queue = ["/", *starts]
            visited: set[str] = set()
            while queue and len(visited) < 40:
                path = queue.pop(0)
                key = f"{label}:{username}:{pattern(path)}"
                if key in seen or path in visited:
                    continue
                visited.add(path)
                seen.add(key)
                resp = await page.goto(demo.base_url + path)
                status = resp.status if resp else 0
                name = re.sub(r"[^A-Za-z0-9]+", "_", pattern(path)).strip("_") or "home"
                await shot(page, out / f"{label}-{username}-{name}.png", full_page=True)
                problems = await page_problems(page)
                line = f"[{label}] {username} {path} -> {status}"
                report.append(line + "".join(f"\n    {p}" for p in problems))
                hrefs: list[str] = await page.eval_on_selector_all(
                    "a[href]", "els => els.map((a) => a.getAttribute('href'))"
                )
                for href in hrefs:
                    parts = urlsplit(href)
                    if parts.netloc or not parts.path.startswith("/"):
                        continue
                    target = parts.path + (f"?{parts.query}" if parts.query else "")
                    if any(s in target for s in SKIP_LINKS):
                        continue
                    queue.append(target)
            await page.context.close()
    await survey_login(browser, demo, out, report)

    async def save(page: Page, name: str, *, full_page: bool = False) -> None:
        await shot(page, out / f"phone-{name}.png", full_page=full_page)
        problems = await page_problems(page)
        report.append(f"[phone] room {name}" + "".join(f"\n    {p}" for p in problems))

    await room_screens(browser, demo, save, viewport=PHONE)
    text = "\n".join(report) + "\n"
    (out / "report.txt").write_text(text, encoding="utf-8")
    return text


async def survey_login(browser: Browser, demo: Demo, out: Path, report: list[str]) -> None:
    """The login page, and its errors, signed out."""
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        ctx = await browser.new_context(viewport=viewport, locale="vi-VN")
        page = await ctx.new_page()
        await page.goto(f"{demo.base_url}/login")
        await page.click('form button[type="submit"]')
        await page.wait_for_load_state()
        await shot(page, out / f"{label}-anonymous-login.png", full_page=True)
        problems = await page_problems(page)
        report.append(f"[{label}] anonymous /login" + "".join(f"\n    {p}" for p in problems))
        await ctx.close()


async def main(argv: list[str] | None = None) -> int:
    """Start the demo server, take the screenshots, print where they went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--survey", action="store_true", help="every page at two sizes")
    parser.add_argument("--out", type=Path, default=ARTIFACTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        async with demo_server(Path(tmp)) as demo, async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[*MEDIA_ARGS, *COMMON_ARGS],
                # Date and time fields drawn as a Vietnamese browser draws them (29/11/2026,
                # 14:00); needs Debian's chromium-l10n, without it they stay in US English.
                env={**os.environ, "LANGUAGE": "vi"},
            )
            try:
                if args.survey:
                    sys.stdout.write(await survey(browser, demo, args.out / "survey"))
                else:
                    for path in await guide(browser, demo, args.out / "guide"):
                        sys.stdout.write(f"{path}\n")
            finally:
                await browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
