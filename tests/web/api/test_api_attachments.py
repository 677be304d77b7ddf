"""Attachments over the API: streamed multipart upload, verified download, limits, removal."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from apitools import MAX_UPLOAD, Api
from PIL import Image

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
