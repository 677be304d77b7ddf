"""Attachments over the API: streamed multipart upload, verified download, limits, removal."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from apitools import MAX_UPLOAD, Api
from dicomstudy import Who, ct_slice, to_bytes
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from records.db import session_maker
from records.models import AuditEvent, utcnow
from records.services.attachment_reads import RANGE_AUDIT_WINDOW
from telemed.settings import Settings


def pdf_bytes(size: int) -> bytes:
    """A PDF-looking file of exactly this many bytes."""
    head = b"%PDF-1.4\n% Ket qua xet nghiem\n"
    body = bytes(range(32, 127)) * (size // 95 + 1)
    return (head + body)[:size]


async def _chunks(data: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def form(*files: tuple[str, bytes], kind: str | None = "lab", **fields: str) -> aiohttp.FormData:
    """A multipart body: kind, extra fields, then the files (streamed by the client)."""
    data = aiohttp.FormData()
    if kind is not None:
        data.add_field("kind", kind)
    for name, value in fields.items():
        data.add_field(name, value)
    for filename, content in files:
        data.add_field(
            "file", _chunks(content), filename=filename, content_type="application/octet-stream"
        )
    return data


async def _case(api: Api) -> dict[str, Any]:
    patient = await api.patient()
    return await api.case(patient["id"])


def stored_files(settings: Settings) -> list[Path]:
    """Every file in the blob store, temporary ones included."""
    root = settings.blob_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_upload_download_list_delete(api: Api, settings: Settings) -> None:
    case = await _case(api)
    url = f"/api/v1/cases/{case['id']}/attachments"
    first = pdf_bytes(100_000)
    second = pdf_bytes(MAX_UPLOAD)
    created = await api.ok(
        "POST",
        url,
        201,
        data=form(("Xét nghiệm máu.pdf", first), ("phim.pdf", second), description="Sinh hóa"),
    )
    items = created["items"]
    assert [(a["filename"], a["size"], a["content_type"]) for a in items] == [
        ("Xét nghiệm máu.pdf", len(first), "application/pdf"),
        ("phim.pdf", len(second), "application/pdf"),
    ]
    assert items[0]["sha256"] == hashlib.sha256(first).hexdigest()
    assert items[0]["description"] == "Sinh hóa" and items[0]["kind"] == "lab"

    listed = await api.ok("GET", url, user="doctor")
    assert [a["id"] for a in listed["items"]] == [a["id"] for a in items]

    reply = await api.get(f"/api/v1/attachments/{items[0]['id']}")
    assert reply.status == 200 and reply.body == first
    assert hashlib.sha256(reply.body).hexdigest() == items[0]["sha256"]
    assert reply.headers["Content-Type"] == "application/pdf"
    assert "filename*=UTF-8''X%C3%A9t" in reply.headers["Content-Disposition"]
    assert reply.headers["ETag"] == f'"{items[0]["sha256"]}"'
    big = await api.get(f"/api/v1/attachments/{items[1]['id']}")
    assert big.body == second

    (await api.get(f"/api/v1/attachments/{items[0]['id']}", user="doctor2")).error(404)
    (await api.delete(f"/api/v1/attachments/{items[0]['id']}", user="doctor2")).error(404)
    assert await api.ok("DELETE", f"/api/v1/attachments/{items[0]['id']}", 204) is None
    (await api.get(f"/api/v1/attachments/{items[0]['id']}")).error(404)
    assert [a["id"] for a in (await api.ok("GET", url))["items"]] == [items[1]["id"]]


async def test_refused_uploads_leave_nothing(api: Api, settings: Settings) -> None:
    case = await _case(api)
    url = f"/api/v1/cases/{case['id']}/attachments"
    await api.ok("POST", url, 201, data=form(("a.pdf", pdf_bytes(1000))))
    before = stored_files(settings)

    err = (await api.post(url, data=form(("lon.pdf", pdf_bytes(MAX_UPLOAD + 1))))).error(413)
    assert err["code"] == "too-large"
    err = (await api.post(url, data=form(("ketqua.pdf", b"MZ\x90\x00" + b"\x00" * 500)))).error(400)
    assert err["code"] == "invalid"
    err = (await api.post(url, data=form(("a.pdf", pdf_bytes(10)), kind=None))).error(400)
    assert "kind" in err["fields"]
    err = (await api.post(url, data=form(("a.pdf", pdf_bytes(10)), kind="xray"))).error(400)
    assert "kind" in err["fields"]
    err = (await api.post(url, data=form(kind="lab"))).error(400)
    assert "file" in err["fields"]
    (await api.post(url, json={"kind": "lab"})).error(400, "invalid")
    (await api.post(url, data=form(("a.pdf", pdf_bytes(10))), user="doctor2")).error(404)
    (
        await api.post(f"/api/v1/cases/{uuid.uuid4()}/attachments", data=form(("a.pdf", b"%PDF")))
    ).error(404)
    (await api.post(url, data=form(("a.pdf", pdf_bytes(10))), user=None)).error(401)

    assert len((await api.ok("GET", url))["items"]) == 1
    assert stored_files(settings) == before


async def test_closed_case_keeps_its_files(api: Api) -> None:
    case = await _case(api)
    url = f"/api/v1/cases/{case['id']}/attachments"
    created = (await api.ok("POST", url, 201, data=form(("a.pdf", pdf_bytes(2000)))))["items"]
    for status in ("submitted", "closed"):
        await api.ok("POST", f"/api/v1/cases/{case['id']}/status", json={"status": status})
    (await api.delete(f"/api/v1/attachments/{created[0]['id']}")).error(409, "conflict")
    (await api.post(url, data=form(("b.pdf", pdf_bytes(2000))))).error(409, "conflict")
    assert [a["id"] for a in (await api.ok("GET", url))["items"]] == [created[0]["id"]]
    assert (await api.get(f"/api/v1/attachments/{created[0]['id']}")).status == 200


def png_bytes(width: int, height: int) -> bytes:
    """A real PNG picture."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


async def test_preview(api: Api) -> None:
    case = await _case(api)
    url = f"/api/v1/cases/{case['id']}/attachments"
    photo = png_bytes(1600, 900)
    created = await api.ok("POST", url, 201, data=form(("anh.png", photo), kind="photo"))
    attachment = created["items"][0]
    assert attachment["content_type"] == "image/png"
    reply = await api.get(f"/api/v1/attachments/{attachment['id']}/preview")
    assert reply.status == 200 and reply.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(reply.body)) as shown:
        assert max(shown.size) < 1600
    pdf = (await api.ok("POST", url, 201, data=form(("a.pdf", pdf_bytes(500)))))["items"][0]
    (await api.get(f"/api/v1/attachments/{pdf['id']}/preview")).error(400, "invalid")
    (await api.get(f"/api/v1/attachments/{attachment['id']}/preview", user="doctor2")).error(404)


async def _downloads(engine: AsyncEngine, attachment_id: str) -> list[tuple[Any, ...]]:
    """The download events of one attachment, oldest first: (actor, outcome)."""
    async with session_maker(engine)() as s:
        rows = await s.execute(
            select(AuditEvent)
            .where(AuditEvent.action == "download", AuditEvent.object_id == attachment_id)
            .order_by(col(AuditEvent.seq))
        )
        return [(e.actor_id, e.outcome) for e in rows.scalars()]


async def _upload(api: Api, *contents: bytes) -> list[dict[str, Any]]:
    case = await _case(api)
    url = f"/api/v1/cases/{case['id']}/attachments"
    files = [(f"phim-{i}.pdf", content) for i, content in enumerate(contents)]
    created = await api.ok("POST", url, 201, data=form(*files))
    items: list[dict[str, Any]] = created["items"]
    return items


async def test_single_ranges_for_seeking(api: Api) -> None:
    content = pdf_bytes(100_000)
    [item] = await _upload(api, content)
    url = f"/api/v1/attachments/{item['id']}"
    etag = f'"{item["sha256"]}"'

    whole = await api.get(url)
    assert whole.status == 200 and whole.body == content
    assert whole.headers["Accept-Ranges"] == "bytes" and "Content-Range" not in whole.headers

    cases = {
        "bytes=0-99": (0, 99),
        "bytes=99990-": (99_990, 99_999),
        "bytes=-5": (99_995, 99_999),
        "bytes=50000-10000000": (50_000, 99_999),
        "bytes=-200000": (0, 99_999),
        "BYTES = 7 - 7": (7, 7),
    }
    for header, (start, end) in cases.items():
        part = await api.get(url, headers={"Range": header})
        assert part.status == 206, (header, part.status)
        assert part.body == content[start : end + 1], header
        assert part.headers["Content-Range"] == f"bytes {start}-{end}/100000"
        assert part.headers["Content-Length"] == str(end - start + 1)
        assert part.headers["ETag"] == etag and part.headers["Accept-Ranges"] == "bytes"
        assert part.headers["Content-Type"] == "application/pdf"
        assert part.headers["Cache-Control"] == "no-store"

    for header in ("bytes=100000-", "bytes=100000-100005", "bytes=-0"):
        refused = await api.get(url, headers={"Range": header})
        err = refused.error(416, "range-not-satisfiable")
        assert "tệp" in err["message"]
        assert refused.headers["Content-Range"] == "bytes */100000"

    # Several ranges, other units and nonsense get the whole file, as RFC 9110 allows.
    for header in ("bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=abc", "bytes=-"):
        reply = await api.get(url, headers={"Range": header})
        assert reply.status == 200 and reply.body == content, header

    # If-Range: the range only if the file is still the one the client has part of.
    same = await api.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert same.status == 206 and same.body == content[10:20]
    changed = await api.get(url, headers={"Range": "bytes=10-19", "If-Range": '"cu"'})
    assert changed.status == 200 and changed.body == content

    # Access is checked on every range, like on the whole file.
    (await api.get(url, user="doctor2", headers={"Range": "bytes=0-9"})).error(404)
    (await api.get(url, user=None, headers={"Range": "bytes=0-9"})).error(401)


async def test_ranges_are_audited_once_per_viewing(api: Api, engine: AsyncEngine) -> None:
    doctor = api.world.users["doctor"].id
    first, second = await _upload(api, pdf_bytes(50_000), pdf_bytes(60_000))
    url = f"/api/v1/attachments/{first['id']}"

    # A player opening the file, then seeking back and forth: one event.
    for header in ("bytes=0-", "bytes=30000-", "bytes=1000-1999", "bytes=0-"):
        assert (await api.get(url, headers={"Range": header})).status == 206
    assert await _downloads(engine, first["id"]) == [(doctor, "ok")]
    # A refused range writes no download, and an unsatisfiable one sends nothing to audit.
    await api.get(url, user="doctor2", headers={"Range": "bytes=0-9"})
    await api.get(url, headers={"Range": "bytes=999999-"})
    assert await _downloads(engine, first["id"]) == [(doctor, "ok")]
    # The whole file is always audited; another file has its own event.
    assert (await api.get(url)).status == 200
    assert (
        await api.get(f"/api/v1/attachments/{second['id']}", headers={"Range": "bytes=5-"})
    ).status == 206
    assert await _downloads(engine, first["id"]) == [(doctor, "ok"), (doctor, "ok")]
    assert await _downloads(engine, second["id"]) == [(doctor, "ok")]

    # Once the last event is older than the window, the next range is audited again.
    async with session_maker(engine)() as s:
        cutoff = utcnow() - RANGE_AUDIT_WINDOW - timedelta(minutes=1)
        await s.execute(
            sa.update(AuditEvent).where(col(AuditEvent.object_id) == second["id"]).values(at=cutoff)
        )
        await s.commit()
    assert (
        await api.get(f"/api/v1/attachments/{second['id']}", headers={"Range": "bytes=5-"})
    ).status == 206
    assert await _downloads(engine, second["id"]) == [(doctor, "ok"), (doctor, "ok")]


async def test_a_damaged_file_is_not_served_in_pieces(
    api: Api, settings: Settings, engine: AsyncEngine
) -> None:
    content = pdf_bytes(80_000)
    [item] = await _upload(api, content)
    url = f"/api/v1/attachments/{item['id']}"
    assert (await api.get(url, headers={"Range": "bytes=0-9"})).status == 206
    # Damage the stored bytes in place, keeping the size: the start is still intact.
    path = settings.blob_dir / item["sha256"][:2] / item["sha256"]
    path.chmod(0o644)
    with open(path, "r+b") as f:
        f.seek(70_000)
        f.write(b"X" * 100)
    # A write moves the modification time on; make sure it does within the clock's granularity.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    reply = await api.get(url, headers={"Range": "bytes=0-9"})
    # The server's own failure (damaged storage), logged, not the client's.
    assert reply.status == 500 and reply.body[:10] != content[:10]
    assert reply.json["error"]["code"] == "blob-corrupt"
    assert len(await _downloads(engine, item["id"])) == 1


async def test_a_dicom_file_has_a_deidentified_copy_for_readers_only(api: Api) -> None:
    case = await _case(api)
    ds = ct_slice(
        study_uid="1.2.826.0.1.3680043.8.498.11", series_uid="1.2.826.0.1.3680043.8.498.12",
        series_number=1, instance=1, z=0, who=Who(patient_id="", name="", birth=""),
    )  # fmt: skip
    ds.InstitutionName, ds.PatientComments = "TTYT Chon Thanh", "Goi 0912345678"
    created = await api.ok(
        "POST",
        f"/api/v1/cases/{case['id']}/attachments",
        201,
        data=form(("IM0001.dcm", to_bytes(ds)), kind="dicom"),
    )
    dicom_id = created["items"][0]["id"]
    url = f"/api/v1/attachments/{dicom_id}/deidentified"
    reply = await api.get(url)
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/dicom"
    assert "IM0001-an-danh.dcm" in reply.headers["Content-Disposition"]
    assert reply.headers["Telemed-Burned-In"] == "no"
    assert b"Chon Thanh" not in reply.body and b"0912345678" not in reply.body
    (await api.get(url, user="doctor2")).error(404, "not-found")
    (await api.get(url, user=None)).error(401)
    pdf = await api.ok(
        "POST",
        f"/api/v1/cases/{case['id']}/attachments",
        201,
        data=form(("xet-nghiem.pdf", pdf_bytes(1000))),
    )
    pdf_url = f"/api/v1/attachments/{pdf['items'][0]['id']}/deidentified"
    (await api.get(pdf_url)).error(400, "invalid")
