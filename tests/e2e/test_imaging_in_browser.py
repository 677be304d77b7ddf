"""The study viewer in Chromium: a ZIP of a 150-slice CT becomes one study, the viewer scrolls,
windows, measures; another patient's study is flagged at upload; another facility gets 404;
two pages in one room follow the presenter's slice and window."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from dicomstudy import SYNTAXES, Who, ct_slice, ct_study, phantom, to_bytes, write_folder, zipped
from e2etools import Pages, World, join, log_in, new_context, open_room, wait_view
from playwright.async_api import Browser, Page
from pydicom.uid import generate_uid

from records.imaging import study_id

pytestmark = pytest.mark.slow


def expected_grey(hu: float, center: float, width: float) -> int:
    """The grey level the DICOM linear window gives a value."""
    y = ((hu - (center - 0.5)) / max(width - 1, 1) + 0.5) * 255
    return max(0, min(255, round(y)))


async def grey_at(page: Page, x: int, y: int) -> int:
    """The grey level of an image pixel as painted (before zoom)."""
    value = await page.evaluate(
        "([x, y]) => window.telemedViewer.imageCanvas.getContext('2d')"
        ".getImageData(x, y, 1, 1).data[0]",
        [x, y],
    )
    return int(value)


async def view(page: Page) -> dict[str, float]:
    """The viewer's current view."""
    out: dict[str, float] = await page.evaluate("window.telemedViewer.getView()")
    return out


async def case_of(page: Page, world: World) -> str:
    """The id of the doctor's case (the one on the world's consultations)."""
    answer = await page.request.get(f"{world.base_url}/api/v1/cases")
    items = (await answer.json())["items"]
    return str(items[0]["id"])


async def test_a_zipped_ct_study_is_one_study_and_the_viewer_reads_it(
    browser: Browser, pages: Pages, world: World, tmp_path: Path
) -> None:
    ctx = await new_context(browser)
    page = pages.add("doctor", await ctx.new_page())
    await log_in(page, world, world.doctor)
    case_id = await case_of(page, world)
    # The seeded patient is Nguyễn Thị Lan; an anonymised export names nobody.
    study = ct_study(slices=(60, 50, 40), who=Who(patient_id="", name="", birth=""))
    archive = tmp_path / "ct.zip"
    archive.write_bytes(zipped(study.files))
    await page.goto(f"{world.base_url}/cases/{case_id}")
    async with page.expect_navigation(timeout=240_000):
        await page.set_input_files("#upload-files", str(archive))
    cards = page.locator(".study-card")
    assert await cards.count() == 1
    counts = await page.locator(".study-card .series-count").all_inner_texts()
    assert counts == ["60 ảnh", "50 ảnh", "40 ảnh"]

    sid = study_id(uuid.UUID(case_id), study.study_uid)
    await page.click(".study-card a.button")
    await page.wait_for_selector(".viewer[data-ready=true]")
    assert str(sid) in page.url
    start = await view(page)
    assert start["series"] == 0 and start["slice"] == 30
    # The soft tissue at the middle of the phantom (40 HU) under the file's window (40/400).
    assert await grey_at(page, 32, 32) == expected_grey(40, 40, 400)

    canvas = page.locator("canvas.viewer-canvas")
    box = await canvas.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.wheel(0, 120)
    await page.wait_for_selector(".viewer[data-slice='31']")
    await page.focus(".viewer")
    await page.keyboard.press("ArrowUp")
    await page.wait_for_selector(".viewer[data-slice='30']")

    # Dragging to the left narrows the window: the soft tissue's grey follows the new window.
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await page.mouse.move(cx, cy)
    await page.mouse.down()
    await page.mouse.move(cx - 60, cy + 40, steps=5)
    await page.mouse.up()
    after = await view(page)
    assert after["width"] < 400 and after["center"] != 40
    assert await grey_at(page, 32, 32) == expected_grey(40, after["center"], after["width"])
    assert await grey_at(page, 32, 32) != expected_grey(40, 40, 400)

    # A length across 40 pixels at 0.7 mm a pixel reads 28.0 mm.
    await page.click("[data-tool=length]")
    a = await page.evaluate("window.telemedViewer.imageToClient(10, 20)")
    b = await page.evaluate("window.telemedViewer.imageToClient(50, 20)")
    await page.mouse.move(a["x"], a["y"])
    await page.mouse.down()
    await page.mouse.move(b["x"], b["y"], steps=4)
    await page.mouse.up()
    assert await page.locator(".viewer-measurements li").all_inner_texts() == ["28.0 mm"]
    await page.click("[data-action=clear]")
    assert await page.locator(".viewer-measurements li").count() == 0

    # The other series: the JPEG 2000 one decodes like the rest.
    await page.click(".viewer-series [data-series='1']")
    await page.wait_for_selector(".viewer[data-slice='25'][data-ready=true]")
    assert (await view(page))["series"] == 1

    # Another facility's doctor: 404 on the page, the study and a slice.
    other = await new_context(browser)
    stranger = pages.add("stranger", await other.new_page())
    await log_in(stranger, world, world.stranger)
    study_json = await page.request.get(f"{world.base_url}/api/v1/cases/{case_id}/studies/{sid}")
    frame_url = (await study_json.json())["series"][0]["slices"][0]["pixels"]
    for url in (
        f"/cases/{case_id}/studies/{sid}",
        f"/api/v1/cases/{case_id}/studies/{sid}",
        f"/api/v1/cases/{case_id}/studies",
        frame_url,
    ):
        answer = await stranger.request.get(world.base_url + url)
        assert answer.status == 404, url
    await other.close()
    await ctx.close()


async def test_a_large_slice_shows_its_first_pass_before_the_full_frame(
    browser: Browser, pages: Pages, world: World, tmp_path: Path
) -> None:
    ctx = await new_context(browser)
    page = pages.add("doctor", await ctx.new_page())
    # Every state the viewer paints in, in order, from the first one.
    await page.add_init_script(
        """new MutationObserver((changes) => {
             for (const c of changes) {
               const v = c.target.dataset.painted;
               if (v && (window.painted ||= []).at(-1) !== v) window.painted.push(v);
             }
           }).observe(document, {subtree: true, attributes: true,
                                 attributeFilter: ["data-painted"]});"""
    )
    await log_in(page, world, world.doctor)
    case_id = await case_of(page, world)
    study = ct_study(
        slices=(3,), syntaxes=SYNTAXES[:1], rows=512, columns=512, who=Who("", "", "")
    )
    archive = tmp_path / "large.zip"
    archive.write_bytes(zipped(study.files))
    await page.goto(f"{world.base_url}/cases/{case_id}")
    async with page.expect_navigation(timeout=120_000):
        await page.set_input_files("#upload-files", str(archive))
    sid = study_id(uuid.UUID(case_id), study.study_uid)
    await page.goto(f"{world.base_url}/cases/{case_id}/studies/{sid}")
    await page.wait_for_selector(".viewer[data-ready=true][data-painted=full]")
    assert await page.evaluate("window.painted") == ["first", "full"]
    # The full frame replaced the first pass: the soft tissue at 512 × 512 coordinates.
    assert await grey_at(page, 256, 256) == expected_grey(40, 40, 400)
    shown = await page.evaluate("[telemedViewer.shown.width, telemedViewer.shown.firstPass]")
    assert shown == [512, None]
    # The first pass was fetched once, for the slice on screen only; its neighbours came whole.
    await page.wait_for_selector(".viewer[data-loaded='3']", state="attached")
    fetched = await page.evaluate(
        "performance.getEntriesByType('resource').map((e) => e.name)"
        ".filter((n) => n.includes('/frames/'))"
    )
    assert len([n for n in fetched if "size=first" in n]) == 1
    assert len([n for n in fetched if "size=first" not in n]) == 3
    await ctx.close()


async def test_a_folder_of_another_patient_asks_before_it_is_stored(
    browser: Browser, pages: Pages, world: World, tmp_path: Path
) -> None:
    ctx = await new_context(browser)
    page = pages.add("doctor", await ctx.new_page())
    await log_in(page, world, world.doctor)
    case_id = await case_of(page, world)
    who = Who(patient_id="BN777", name="LE^VAN^TAM", birth="19500101")
    study_uid, series_uid = generate_uid(), generate_uid()
    files = {
        f"CT/IM{i}": to_bytes(
            ct_slice(
                study_uid=study_uid,
                series_uid=series_uid,
                series_number=1,
                instance=i + 1,
                z=i * 2.0,
                who=who,
            )
        )
        for i in range(4)
    }
    folder = write_folder(tmp_path / "cd", files)
    await page.goto(f"{world.base_url}/cases/{case_id}")
    await page.set_input_files("#upload-folder", str(folder))
    warning = page.locator(".identity-warning")
    await warning.wait_for()
    text = await warning.inner_text()
    assert "BN777" in text and "LE VAN TAM" in text and "1950-01-01" in text
    async with page.expect_navigation():
        await page.click(".identity-confirm")
    counts = await page.locator(".study-card .series-count").all_inner_texts()
    assert counts == ["4 ảnh"]
    await ctx.close()


async def test_the_room_follows_the_presenters_slice_and_window(
    browser: Browser, pages: Pages, world: World, tmp_path: Path
) -> None:
    ctx = await new_context(browser)
    doctor = pages.add("doctor", await ctx.new_page())
    await log_in(doctor, world, world.doctor)
    case_id = await case_of(doctor, world)
    study = ct_study(slices=(12, 8), syntaxes=SYNTAXES[:2], who=Who("", "", ""))
    archive = tmp_path / "ct.zip"
    archive.write_bytes(zipped(study.files))
    await doctor.goto(f"{world.base_url}/cases/{case_id}")
    async with doctor.expect_navigation(timeout=120_000):
        await doctor.set_input_files("#upload-files", str(archive))
    await ctx.close()

    chair = await open_room(browser, pages, world, world.chair, world.open_room, label="chair")
    await join(chair)
    await wait_view(chair, "call")
    spec = await open_room(browser, pages, world, world.specialist, world.open_room, label="spec")
    await join(spec)
    await wait_view(spec, "call")

    await chair.locator("[data-study-id]:visible").first.click()
    await chair.wait_for_selector(".room-imaging .viewer[data-ready=true]")
    await chair.click("[data-imaging=share]")
    await spec.wait_for_selector(".room-imaging .viewer[data-ready=true]")
    banner = spec.locator(".viewer-follow span")
    await banner.wait_for()
    assert "Đang theo dõi hình ảnh của" in await banner.inner_text()
    # An invited specialist follows; only the presenter and the chair may lead.
    assert await spec.locator("[data-imaging=share]").is_hidden()

    box = await chair.locator(".room-imaging canvas.viewer-canvas").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await chair.mouse.move(cx, cy)
    await chair.mouse.wheel(0, 120)
    await chair.mouse.wheel(0, 120)
    await chair.mouse.down()
    await chair.mouse.move(cx + 50, cy - 30, steps=4)
    await chair.mouse.up()
    shown = await view(chair)
    assert shown["slice"] == 8
    same = (
        "v => { const t = window.telemedViewer; const w = t.getView();"
        " return w.slice === v.slice && w.center === v.center && w.width === v.width"
        " && t.root.dataset.slice === String(v.slice); }"
    )
    await spec.wait_for_function(same, arg=shown, timeout=5_000)
    # Painted with the presenter's window (the paint follows the frame's arrival).
    hu = float(np.rint(phantom(64, 64, -100.0 + 8 * 1.25))[32, 32])  # slice 8 of the stack
    want = expected_grey(hu, shown["center"], shown["width"])
    for _ in range(50):
        if await grey_at(spec, 32, 32) == want:
            break
        await spec.wait_for_timeout(100)
    assert await grey_at(spec, 32, 32) == want

    # Stepping out: the presenter scrolls on alone; back in, the follower catches up.
    await spec.click("[data-imaging=follow]")
    await chair.mouse.move(cx, cy)
    await chair.mouse.wheel(0, 120)
    moved = await view(chair)
    await chair.wait_for_timeout(500)
    assert (await view(spec))["slice"] == 8
    await spec.click("[data-imaging=follow]")
    await spec.wait_for_function(same, arg=moved, timeout=5_000)
