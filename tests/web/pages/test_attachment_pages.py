"""Attachments in the browser: uploaded through the API as the page does, viewed inline."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import factories
import pytest
from aiohttp import FormData
from dicomstudy import anonymised
from hostile import PeakRss, deflated_dicom, rle_dicom
from pagetools import Site, csrf_of, running_site
from PIL import Image
from pydicom.data import get_testdata_file
from sqlalchemy.ext.asyncio import AsyncEngine

from records.models import Case
from records.render.pool import OUT_OF_MEMORY
from web.keys import background_key, blobs_key, renderer_key

# The server's resident memory may grow this much while it serves a hostile picture's preview.
SERVER_GROWTH_MB = 100
TOO_LARGE = "Ảnh 20000 × 20000 điểm ảnh quá lớn để máy chủ tạo bản xem trước"
TOO_LARGE_EN = "At 20000 × 20000 pixels this image is too large for the server to preview"
OUT_OF_MEMORY_EN = "Previewing this image needs more memory than the server allows"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
async def site(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Site]:
    """The application with people of three facilities."""
    async with running_site(engine, tmp_path) as running:
        yield running


def png_bytes() -> bytes:
    """A small PNG photo."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


async def _case(site: Site) -> Case:
    async with site.sessions() as s:
        patient = await factories.patient(s, facility=site.district, full_name="Hoàng Thị Mai")
        return await factories.case(s, patient=patient, author=site.users["doctor"])


async def _upload(
    site: Site, case: Case, kind: str, name: str, data: bytes, token: str | None = None
) -> dict[str, object]:
    """Upload the way js/upload.js does: multipart to the API with the page's CSRF header
    (the case page's token, read now unless given)."""
    token = token or csrf_of(await site.page(f"/cases/{case.id}"))
    form = FormData()
    form.add_field("kind", kind)
    form.add_field("description", "Tải lên từ trang hồ sơ")
    form.add_field("file", data, filename=name)
    resp = await site.client.post(
        f"/api/v1/cases/{case.id}/attachments", data=form, headers={"X-CSRF-Token": token}
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    item = body["items"][0]
    assert isinstance(item, dict)
    return item


async def test_an_image_is_listed_and_previewed(site: Site) -> None:
    case = await _case(site)
    await site.login("doctor")
    item = await _upload(site, case, "photo", "tổn thương da.png", png_bytes())
    html = await site.page(f"/cases/{case.id}")
    assert "tổn thương da.png" in html
    assert f"/attachments/{item['id']}/preview" in html
    assert "Thêm tệp đính kèm" in html
    view = await site.page(f"/attachments/{item['id']}")
    assert 'class="preview-image"' in view and "Tải lên từ trang hồ sơ" in view
    resp = await site.client.get(f"/attachments/{item['id']}/preview")
    assert resp.status == 200 and resp.content_type in ("image/png", "image/jpeg")
    image = Image.open(io.BytesIO(await resp.read()))
    assert image.size == (64, 48)


async def test_a_pdf_is_framed_by_our_own_viewer_only(site: Site) -> None:
    case = await _case(site)
    await site.login("doctor")
    item = await _upload(site, case, "lab", "xét nghiệm máu.pdf", PDF)
    view = await site.page(f"/attachments/{item['id']}")
    assert f'<iframe class="preview-frame" src="/attachments/{item["id"]}/file"' in view
    resp = await site.client.get(f"/attachments/{item['id']}/file")
    assert resp.status == 200
    assert await resp.read() == PDF
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("inline")
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp and "script-src" not in csp
    # Every other response still refuses to be framed.
    page = await site.client.get(f"/attachments/{item['id']}")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


async def test_a_dicom_study_is_shown_as_an_image_with_its_key_metadata(site: Site) -> None:
    case = await _case(site)
    await site.login("doctor")
    item = await _upload(site, case, "dicom", "ct-nguc.dcm", ct_bytes())
    view = await site.page(f"/attachments/{item['id']}")
    assert "Thông tin DICOM" in view
    assert "Kỹ thuật chụp" in view and "<dd>CT</dd>" in view
    assert f'src="/attachments/{item["id"]}/preview"' in view
    resp = await site.client.get(f"/attachments/{item['id']}/preview")
    assert resp.status == 200 and resp.content_type == "image/png"
    assert Image.open(io.BytesIO(await resp.read())).size[0] > 0


async def test_the_case_page_packs_the_slice_a_study_opens_on_and_offers_a_deidentified_copy(
    site: Site,
) -> None:
    case = await _case(site)
    await site.login("doctor")
    item = await _upload(site, case, "dicom", "ct-nguc.dcm", ct_bytes())
    await site.page(f"/cases/{case.id}")
    app = site.client.app
    assert app is not None
    await app[background_key].idle()
    blobs = app[blobs_key]
    sha = str(item["sha256"])
    assert blobs.has_preview(sha, "f0.v2.px.gz")  # packed before any viewer asked
    view = await site.page(f"/attachments/{item['id']}")
    assert f"/api/v1/attachments/{item['id']}/deidentified" in view and "Tải bản ẩn danh" in view


async def test_another_facility_cannot_see_or_preview_an_attachment(site: Site) -> None:
    case = await _case(site)
    await site.login("doctor")
    item = await _upload(site, case, "photo", "ảnh.png", png_bytes())
    site.client.session.cookie_jar.clear()
    await site.login("stranger")
    for suffix in ("", "/preview", "/file"):
        resp = await site.client.get(f"/attachments/{item['id']}{suffix}")
        assert resp.status == 404, suffix
        assert "ảnh.png" not in await resp.text()
    status, _, _ = await site.post(f"/attachments/{item['id']}/delete", {})
    assert status == 404


async def test_a_doctor_removes_a_file_from_a_draft_case(site: Site) -> None:
    case = await _case(site)
    await site.login("doctor")
    item = await _upload(site, case, "document", "giấy chuyển viện.pdf", PDF)
    status, _, location = await site.post(f"/attachments/{item['id']}/delete", {})
    assert status == 303 and location == f"/cases/{case.id}"
    html = await site.page(location)
    assert "Đã xóa tệp giấy chuyển viện.pdf" in html
    assert "Xóa tệp đính kèm" in html
    await site.page(f"/attachments/{item['id']}", status=404)


async def test_a_file_that_is_not_what_it_claims_is_refused_in_vietnamese(site: Site) -> None:
    case = await _case(site)
    await site.login("doctor")
    token = csrf_of(await site.page(f"/cases/{case.id}"))
    form = FormData()
    form.add_field("kind", "dicom")
    form.add_field("file", PDF, filename="khong-phai-dicom.dcm")
    resp = await site.client.post(
        f"/api/v1/cases/{case.id}/attachments", data=form, headers={"X-CSRF-Token": token}
    )
    assert resp.status == 400
    body = await resp.json()
    assert "DICOM" in body["error"]["message"] or "DICOM" in str(body["error"].get("fields"))
    assert "Chưa có tài liệu đính kèm." in await site.page(f"/cases/{case.id}")


def ct_bytes() -> bytes:
    """The small CT slice that ships with pydicom, its patient left out (anonymised)."""
    return anonymised(Path(str(get_testdata_file("CT_small.dcm"))).read_bytes())


async def test_a_huge_dicom_is_kept_flagged_and_listed_with_the_reason(
    site: Site, tmp_path: Path
) -> None:
    case = await _case(site)
    await site.login("doctor")
    # 20000 × 20000 pixels: RLE in 6 MB, and deflated in 2 MB (400 MB once inflated).
    files = {
        "lon.dcm": rle_dicom(tmp_path / "lon.dcm", rows=20000, columns=20000).read_bytes(),
        "nen.dcm": deflated_dicom(tmp_path / "nen.dcm", rows=20000, columns=20000).read_bytes(),
    }
    peak = PeakRss()
    peak.start()
    items = [await _upload(site, case, "dicom", name, data) for name, data in files.items()]
    for item in items:
        meta = item["meta"]
        assert isinstance(meta, dict) and meta["no_preview"] == "too-large"
    html = await site.page(f"/cases/{case.id}")
    assert html.count(TOO_LARGE) == 2
    view = await site.page(f"/attachments/{items[0]['id']}")
    assert TOO_LARGE in view and "preview-image" not in view
    for item in items:
        assert f"/attachments/{item['id']}/preview" not in html + view
        page = await site.client.get(f"/attachments/{item['id']}/preview")
        assert page.status == 400 and TOO_LARGE in await page.text()
        api = await site.client.get(f"/api/v1/attachments/{item['id']}/preview")
        assert api.status == 400
        assert (await api.json())["error"]["code"] == "preview-refused"
    # Nothing was decoded, in the server or in a worker.
    assert site.client.app[renderer_key].stats.jobs == 0
    assert peak.growth_mb < SERVER_GROWTH_MB
    # The reason speaks the reader's language, its figures filled in.
    await site.client.get("/lang/en")
    assert (await site.page(f"/cases/{case.id}")).count(TOO_LARGE_EN) == 2
    assert TOO_LARGE_EN in await site.page(f"/attachments/{items[0]['id']}")
    api = await site.client.get(f"/api/v1/attachments/{items[1]['id']}/preview")
    assert TOO_LARGE_EN in (await api.json())["error"]["message"]


async def test_a_large_frame_is_rendered_in_a_worker_not_in_the_server(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with running_site(engine, tmp_path, render_max_pixels=100_000_000) as site:
        case = await _case(site)
        await site.login("doctor")
        data = rle_dicom(tmp_path / "lon.dcm", rows=8000, columns=8000).read_bytes()
        item = await _upload(site, case, "dicom", "lon.dcm", data)
        peak = PeakRss()
        peak.start()
        resp = await site.client.get(f"/attachments/{item['id']}/preview")
        assert resp.status == 200 and resp.content_type == "image/png"
        assert Image.open(io.BytesIO(await resp.read())).size == (1024, 1024)
        # Rendered in this process before, it took it from 175 MB to 2.3 GB.
        assert peak.growth_mb < SERVER_GROWTH_MB
        # The worker decodes the 64 MB frame in its stored bytes: no float copy of it.
        assert site.client.app[renderer_key].stats.worker_peak_rss_kb < 400 * 1024


async def test_a_preview_over_the_worker_memory_limit_costs_only_the_worker(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    limits = {"render_memory_mb": 256, "render_max_pixels": 100_000_000}
    async with running_site(engine, tmp_path, **limits) as site:
        case = await _case(site)
        await site.login("doctor")
        data = rle_dicom(tmp_path / "lon.dcm", rows=8000, columns=8000).read_bytes()
        # One visit of the case page, before the files: it has no study to pack ahead, so the
        # renders counted below are the previews' own.
        token = csrf_of(await site.page(f"/cases/{case.id}"))
        big = await _upload(site, case, "dicom", "lon.dcm", data, token)
        ct = await _upload(site, case, "dicom", "ct.dcm", ct_bytes(), token)
        renderer = site.client.app[renderer_key]
        peak = PeakRss()
        peak.start()
        for _ in range(2):
            resp = await site.client.get(f"/api/v1/attachments/{big['id']}/preview")
            body = await resp.json()
            assert resp.status == 400, body
            assert body["error"] == {
                "code": "render-failed",
                "message": OUT_OF_MEMORY,
                "fields": {},
            }
        assert peak.growth_mb < SERVER_GROWTH_MB
        # One render, whose worker ran out of memory; the second view came from the cache.
        assert (renderer.stats.jobs, renderer.stats.failed) == (1, 1)
        resp = await site.client.get(f"/attachments/{ct['id']}/preview")
        assert resp.status == 200 and resp.content_type == "image/png"
        assert renderer.stats.workers_started == 2
        view = await site.page(f"/attachments/{big['id']}")
        assert OUT_OF_MEMORY in view and "preview-image" not in view
        # The failure remembered in the cache is told in English to an English reader.
        await site.client.get("/lang/en")
        assert OUT_OF_MEMORY_EN in await site.page(f"/attachments/{big['id']}")
        resp = await site.client.get(f"/api/v1/attachments/{big['id']}/preview")
        assert OUT_OF_MEMORY_EN in (await resp.json())["error"]["message"]
        assert renderer.stats.jobs == 2
