"""Attachments on both databases: upload, sniffing, limits, access, download, delete."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from attachmenttools import (
    MB,
    PDF,
    World,
    attachment_world,
    count_rows,
    ct_bytes,
    png_bytes,
    read_all,
    upload,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, func, select

from records.blobs import BlobCorrupt, BlobStore
from records.db import session_maker
from records.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from records.models import (
    AttachmentKind,
    AuditEvent,
    Case,
    CaseEvent,
    CaseStatus,
    ConsultationCase,
)
from records.render import Renderer
from records.services import attachment_previews, attachment_reads, attachments
from records.sniff import sniff


@pytest.fixture
async def world(session: AsyncSession, tmp_path: Path, renderer: Renderer) -> World:
    """People of three facilities, a case with a specialist invited, a blob store."""
    return await attachment_world(session, tmp_path / "blobs", renderer)


def blob_files(store: BlobStore) -> list[Path]:
    return [
        p
        for p in store.root.rglob("*")
        if p.is_file() and store.tmp_dir not in p.parents and store.preview_dir not in p.parents
    ]


def tmp_files(store: BlobStore) -> list[Path]:
    return list(store.tmp_dir.iterdir()) if store.tmp_dir.exists() else []


async def test_upload_and_download_roundtrip(session: AsyncSession, world: World) -> None:
    a = await upload(session, world, PDF)
    assert a.content_type == "application/pdf" and a.size == len(PDF)
    assert a.sha256 == hashlib.sha256(PDF).hexdigest()
    assert a.uploaded_by == world.doctor.user_id and a.description.startswith("Xét nghiệm")
    listed = await attachment_reads.list_for_case(
        session=session, actor=world.specialist, case_id=world.case.id
    )
    assert [x.id for x in listed] == [a.id]
    download = await attachment_reads.open_download(
        session=session, blobs=world.store, actor=world.specialist, attachment_id=a.id
    )
    row, chunks = download.attachment, download.chunks
    assert row.filename == "ket-qua.pdf"
    assert await read_all(chunks) == PDF
    actions = (
        (
            await session.execute(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "attachment")
                .order_by(col(AuditEvent.seq))
            )
        )
        .scalars()
        .all()
    )
    assert list(actions) == ["create", "download"]
    history = (
        (await session.execute(select(CaseEvent.action).where(CaseEvent.case_id == world.case.id)))
        .scalars()
        .all()
    )
    assert "attachment" in history
    assert tmp_files(world.store) == []


async def test_content_type_comes_from_the_bytes(session: AsyncSession, world: World) -> None:
    a = await upload(
        session, world, png_bytes(40, 30), kind=AttachmentKind.photo, filename="ecg.pdf"
    )
    assert a.content_type == "image/png" and a.meta == {"width": 40, "height": 30}
    # The name follows the bytes: a PNG called .pdf is saved as .png.
    assert a.filename == "ecg.png"
    t = await upload(
        session,
        world,
        "Ghi chú: bệnh nhân dị ứng penicillin\n".encode(),
        kind=AttachmentKind.document,
        filename="ghi-chu.exe",
    )
    assert t.content_type.startswith("text/plain")
    assert t.filename == "ghi-chu.txt"


async def test_identical_files_are_stored_once(session: AsyncSession, world: World) -> None:
    a = await upload(session, world, PDF)
    b = await upload(session, world, PDF, filename="ban-sao.pdf")
    assert a.id != b.id and a.sha256 == b.sha256
    assert len(blob_files(world.store)) == 1
    await attachments.delete(
        session=session, blobs=world.store, actor=world.doctor, attachment_id=a.id
    )
    assert world.store.exists(b.sha256)
    download = await attachment_reads.open_download(
        session=session, blobs=world.store, actor=world.doctor, attachment_id=b.id
    )
    chunks = download.chunks
    assert await read_all(chunks) == PDF
    await attachments.delete(
        session=session, blobs=world.store, actor=world.doctor, attachment_id=b.id
    )
    assert blob_files(world.store) == [] and await count_rows(session) == 0


async def test_one_byte_over_the_limit_leaves_nothing(session: AsyncSession, world: World) -> None:
    with pytest.raises(TooLarge) as err:
        await upload(session, world, PDF, max_bytes=len(PDF) - 1)
    assert "dung lượng" in err.value.message
    assert await count_rows(session) == 0
    assert blob_files(world.store) == [] and tmp_files(world.store) == []
    ok = await upload(session, world, PDF, max_bytes=len(PDF))
    assert ok.size == len(PDF)


async def test_interrupted_upload_leaves_nothing(session: AsyncSession, world: World) -> None:
    async def dropped() -> AsyncIterator[bytes]:
        yield PDF[:4096]
        yield PDF[4096:5000]
        raise ConnectionResetError("client disconnected")

    with pytest.raises(ConnectionResetError):
        await attachments.upload(
            session=session,
            blobs=world.store,
            actor=world.doctor,
            case_id=world.case.id,
            kind=AttachmentKind.lab,
            filename="x.pdf",
            chunks=dropped(),
            max_bytes=MB,
        )
    assert await count_rows(session) == 0
    assert blob_files(world.store) == [] and tmp_files(world.store) == []


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"MZ\x90\x00" + b"\0" * 300, "chương trình"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 300, "chương trình"),
        (b"#!/bin/sh\nrm -rf /\n", "chương trình"),
        (b"PK\x03\x04" + b"\0" * 100, "PDF"),
        (b"<!DOCTYPE html><script>alert(1)</script>", "HTML"),
        (b"\x00\x01\x02\x03binary\xff\xfe", "không được hỗ trợ"),
        (b"", "rỗng"),
        # Sniffed as PNG, but the picture cannot be read: refused after the transfer.
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "Ảnh bị hỏng"),
        # A DICOM preamble carrying a Windows executable header (a polyglot file).
        (b"MZ" + b"\0" * 126 + b"DICM" + b"\0" * 100, "chương trình"),
    ],
)
async def test_refused_content(
    session: AsyncSession, world: World, data: bytes, needle: str
) -> None:
    with pytest.raises(Invalid) as err:
        await upload(session, world, data, filename="ket-qua.pdf")
    assert needle in err.value.message and "file" in err.value.fields
    assert await count_rows(session) == 0
    assert blob_files(world.store) == [] and tmp_files(world.store) == []


def test_sniff_allowlist() -> None:
    webp = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\0" * 20
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"
    cases = {
        PDF: "application/pdf",
        png_bytes(): "image/png",
        b"\xff\xd8\xff\xe0\x00\x10JFIF": "image/jpeg",
        b"GIF89a\x01\x00": "image/gif",
        webp: "image/webp",
        ct_bytes()[:4096]: "application/dicom",
        mp4: "video/mp4",
        webm: "video/webm",
        "Kết quả siêu âm: gan nhiễm mỡ độ I".encode(): "text/plain; charset=utf-8",
    }
    for head, expected in cases.items():
        assert sniff(head).content_type == expected
    with pytest.raises(Invalid):
        sniff(b"\x00\x00\x00\x18ftypheic")
    # A multi-byte character cut at the end of the sampled head is still text.
    assert sniff(("ệ" * 2000).encode()[:4095]).content_type.startswith("text/plain")


async def test_kind_must_fit_the_content(session: AsyncSession, world: World) -> None:
    with pytest.raises(Invalid) as err:
        await upload(session, world, PDF, kind=AttachmentKind.dicom)
    assert "DICOM" in err.value.message
    with pytest.raises(Invalid):
        await upload(session, world, PDF, kind=AttachmentKind.recording)
    with pytest.raises(Invalid):
        await upload(session, world, PDF, kind="x-ray")
    assert await count_rows(session) == 0


async def test_file_names_are_sanitised(session: AsyncSession, world: World) -> None:
    a = await upload(session, world, PDF, filename="C:\\Users\\bs\\..\\Kết quả <máu>.pdf")
    assert a.filename == "Kết quả _máu_.pdf"
    b = await upload(session, world, PDF, filename="../../etc/passwd")
    assert b.filename == "passwd.pdf"
    c = await upload(session, world, PDF, filename=" ..\x00 ")
    assert c.filename == "tep-dinh-kem.pdf"
    d = await upload(session, world, PDF, filename="a" * 400 + ".pdf")
    assert len(d.filename) == 255 and d.filename.endswith(".pdf")


async def test_other_facilities_cannot_reach_attachments(
    session: AsyncSession, world: World
) -> None:
    a = await upload(session, world, PDF)
    for who in (world.other_doctor, world.outsider):
        with pytest.raises(NotFound):
            await upload(session, world, PDF, actor=who)
        with pytest.raises(NotFound):
            await attachment_reads.list_for_case(session=session, actor=who, case_id=world.case.id)
        with pytest.raises(NotFound):
            await attachment_reads.open_download(
                session=session, blobs=world.store, actor=who, attachment_id=a.id
            )
        with pytest.raises(NotFound):
            await attachment_previews.preview(
                session=session,
                blobs=world.store,
                renderer=world.renderer,
                actor=who,
                attachment_id=a.id,
            )
        with pytest.raises(NotFound):
            await attachments.delete(
                session=session, blobs=world.store, actor=who, attachment_id=a.id
            )
    # An invited specialist reads the file but does not change it.
    with pytest.raises(Forbidden):
        await upload(session, world, PDF, actor=world.specialist)
    with pytest.raises(Forbidden):
        await attachments.delete(
            session=session, blobs=world.store, actor=world.specialist, attachment_id=a.id
        )
    assert await count_rows(session) == 1 and world.store.exists(a.sha256)
    denied = (
        await session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "denied")
        )
    ).scalar_one()
    assert denied >= 10


async def test_status_rules_for_adding_and_removing(session: AsyncSession, world: World) -> None:
    a = await upload(session, world, PDF)
    world.case.status = CaseStatus.scheduled
    session.add(world.case)
    await session.commit()
    # New results may still be added before the session, but nothing read may vanish.
    b = await upload(session, world, png_bytes(), kind=AttachmentKind.photo, filename="a.png")
    with pytest.raises(Conflict):
        await attachments.delete(
            session=session, blobs=world.store, actor=world.doctor, attachment_id=a.id
        )
    world.case.status = CaseStatus.discussed
    session.add(world.case)
    await session.commit()
    with pytest.raises(Conflict):
        await upload(session, world, PDF, filename="late.pdf")
    assert await count_rows(session) == 2
    assert world.store.exists(a.sha256) and world.store.exists(b.sha256)


async def test_delete_is_audited(session: AsyncSession, world: World) -> None:
    a = await upload(session, world, PDF)
    await attachments.delete(
        session=session, blobs=world.store, actor=world.doctor, attachment_id=a.id
    )
    with pytest.raises(NotFound):
        await attachment_reads.open_download(
            session=session, blobs=world.store, actor=world.doctor, attachment_id=a.id
        )
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "delete"))
    ).scalar_one()
    assert event.object_id == str(a.id) and event.patient_id == world.case.patient_id


async def test_corrupted_file_fails_the_download(session: AsyncSession, world: World) -> None:
    data = PDF * 100
    a = await upload(session, world, data)
    path = world.store.path_for(a.sha256)
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 1
    path.write_bytes(bytes(raw))
    download = await attachment_reads.open_download(
        session=session, blobs=world.store, actor=world.doctor, attachment_id=a.id
    )
    chunks = download.chunks
    with pytest.raises(BlobCorrupt):
        await read_all(chunks)
    path.unlink()
    with pytest.raises(NotFound):
        await attachment_reads.open_download(
            session=session, blobs=world.store, actor=world.doctor, attachment_id=a.id
        )


async def test_store_recording(session: AsyncSession, world: World, tmp_path: Path) -> None:
    consultation_id = (await session.execute(select(ConsultationCase.consultation_id))).scalar_one()
    source = tmp_path / "rec.webm"
    payload = b"\x1a\x45\xdf\xa3" + zlib.compress(b"frames" * 10000)
    source.write_bytes(payload)
    a = await attachments.store_recording(
        session=session,
        blobs=world.store,
        consultation_id=consultation_id,
        path=source,
        content_type="video/webm",
        meta={"duration_seconds": 12.5, "participants": ["BS. A"]},
    )
    assert a.kind == AttachmentKind.recording and a.consultation_id == consultation_id
    assert a.case_id == world.case.id and a.uploaded_by is None
    # No participant in the metadata: a neutral name, with the session's time.
    assert a.filename.startswith("ghi-hinh-nguoi-tham-du-") and a.filename.endswith(".webm")
    assert a.meta["duration_seconds"] == 12.5
    assert not source.exists()
    download = await attachment_reads.open_download(
        session=session, blobs=world.store, actor=world.specialist, attachment_id=a.id
    )
    chunks = download.chunks
    assert await read_all(chunks) == payload
    actor_name = (
        await session.execute(
            select(AuditEvent.actor_name).where(
                AuditEvent.object_id == str(a.id), AuditEvent.action == "create"
            )
        )
    ).scalar_one()
    assert actor_name == "recorder"


async def test_case_closed_during_the_transfer(
    session: AsyncSession, engine: AsyncEngine, world: World
) -> None:
    async def slow_then_closed() -> AsyncIterator[bytes]:
        yield PDF[:4096]
        # Meanwhile, on another connection, the case is discussed and closed.
        async with session_maker(engine)() as other:
            case = await other.get(Case, world.case.id)
            assert case is not None
            case.status = CaseStatus.closed
            other.add(case)
            await other.commit()
        yield PDF[4096:]

    with pytest.raises(Conflict):
        await attachments.upload(
            session=session,
            blobs=world.store,
            actor=world.doctor,
            case_id=world.case.id,
            kind=AttachmentKind.lab,
            filename="x.pdf",
            chunks=slow_then_closed(),
            max_bytes=MB,
        )
    assert await count_rows(session) == 0
    assert blob_files(world.store) == [] and tmp_files(world.store) == []
