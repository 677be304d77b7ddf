"""`records.integrity.check`: each invariant broken on purpose, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import factories
import pytest
import sqlalchemy as sa
from attachmenttools import PDF, World, attachment_world, png_bytes, upload
from sqlalchemy.ext.asyncio import AsyncSession

from records import audit
from records.actor import Actor
from records.integrity import check, remove_leftovers
from records.models import (
    Attachment,
    AttachmentKind,
    Attendance,
    AuditEvent,
    ConsultationStatus,
    FacilityLevel,
    Minutes,
    MinutesStatus,
)
from records.render import Renderer

HOUR = 3600.0


@pytest.fixture
async def world(session: AsyncSession, tmp_path: Path, renderer: Renderer) -> World:
    """The attachment tests' world with two files uploaded."""
    w = await attachment_world(session, tmp_path / "blobs", renderer)
    await upload(session, w, PDF)
    await upload(session, w, png_bytes(), kind=AttachmentKind.photo, filename="anh.png")
    return w


async def _kinds(session: AsyncSession, w: World, **kwargs: float) -> set[str]:
    report = await check(session=session, blobs=w.store, **kwargs)
    assert report.ok == (not report.problems)
    return report.kinds()


async def _first(session: AsyncSession) -> Attachment:
    found = await session.execute(sa.select(Attachment).order_by(sa.column("size")))
    return found.scalars().first()  # type: ignore[no-any-return]


async def test_a_consistent_store_passes(session: AsyncSession, world: World) -> None:
    report = await check(session=session, blobs=world.store)
    assert report.ok, report.problems
    assert report.attachments == 2 and report.files == 2
    assert report.audit_events >= 2


async def test_a_missing_file_is_found(session: AsyncSession, world: World) -> None:
    att = await _first(session)
    world.store.path_for(att.sha256).unlink()
    assert await _kinds(session, world) == {"missing-file"}


async def test_a_changed_file_is_found(session: AsyncSession, world: World) -> None:
    att = await _first(session)
    path = world.store.path_for(att.sha256)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert await _kinds(session, world) == {"corrupt-file"}


async def test_a_truncated_file_is_found(session: AsyncSession, world: World) -> None:
    att = await _first(session)
    path = world.store.path_for(att.sha256)
    path.write_bytes(path.read_bytes()[:-10])
    assert await _kinds(session, world) == {"corrupt-file"}


async def test_an_orphan_file_is_found_after_the_grace_period(
    session: AsyncSession, world: World
) -> None:
    sha, _ = await world.store.put(_chunks(b"no row points at these bytes"), max_bytes=1000)
    # Within the grace period it may be an upload about to commit its row.
    assert await _kinds(session, world) == set()
    old = time.time() - 2 * HOUR
    os.utime(world.store.path_for(sha), (old, old))
    assert await _kinds(session, world) == {"orphan-file"}
    assert await _kinds(session, world, grace_seconds=3 * HOUR) == set()


async def test_a_dead_uploads_temp_file_is_found(session: AsyncSession, world: World) -> None:
    world.store.tmp_dir.mkdir(parents=True, exist_ok=True)
    # No process has pid 0x7FFFFFF0: the upload that wrote this is gone.
    (world.store.tmp_dir / f"{0x7FFFFFF0}-abc.part").write_bytes(b"half an upload")
    assert await _kinds(session, world) == {"leftover-temp"}


async def test_leftovers_are_removed_on_request_and_a_file_in_use_is_kept(
    session: AsyncSession, world: World
) -> None:
    old = time.time() - 2 * HOUR
    orphan, _ = await world.store.put(_chunks(b"no row points at these bytes"), max_bytes=1000)
    os.utime(world.store.path_for(orphan), (old, old))
    world.store.tmp_dir.mkdir(parents=True, exist_ok=True)
    dead = world.store.tmp_dir / f"{0x7FFFFFF0}-abc.part"
    dead.write_bytes(b"half an upload")
    # A file whose row commits between the check and the removal (the same bytes uploaded
    # again): it must stay.
    again, _ = await world.store.put(_chunks(b"uploaded again meanwhile"), max_bytes=1000)
    os.utime(world.store.path_for(again), (old, old))
    report = await check(session=session, blobs=world.store)
    assert report.kinds() == {"orphan-file", "leftover-temp"} and len(report.problems) == 3
    row = await _first(session)
    session.add(
        Attachment(
            case_id=row.case_id,
            kind=AttachmentKind.document,
            filename="lai.pdf",
            content_type="application/pdf",
            size=len(b"uploaded again meanwhile"),
            sha256=again,
            uploaded_by=row.uploaded_by,
        )
    )
    await session.commit()

    removed = await remove_leftovers(session=session, blobs=world.store, report=report)
    assert sorted(p.kind for p in removed) == ["leftover-temp", "orphan-file"]
    assert not world.store.path_for(orphan).exists() and not dead.exists()
    assert world.store.path_for(again).exists()
    assert [p.subject for p in report.problems] == [str(world.store.path_for(again))]
    # Nothing else was touched: the record's own files are all there.
    assert "missing-file" not in await _kinds(session, world)


async def test_a_live_uploads_temp_file_is_not_a_problem(
    session: AsyncSession, world: World
) -> None:
    world.store.tmp_dir.mkdir(parents=True, exist_ok=True)
    (world.store.tmp_dir / f"{os.getpid()}-abc.part").write_bytes(b"arriving")
    assert await _kinds(session, world) == set()


async def test_a_row_without_its_audit_event_is_found(session: AsyncSession, world: World) -> None:
    att = await _first(session)
    # A row added outside the service's transaction: its file is there, its audit event not.
    session.add(
        Attachment(
            case_id=att.case_id,
            kind=att.kind,
            filename="chen-tay.pdf",
            content_type=att.content_type,
            size=att.size,
            sha256=att.sha256,
        )
    )
    await session.commit()
    assert await _kinds(session, world) == {"unaudited-record"}


async def test_half_finished_minutes_and_attendance_are_found(
    session: AsyncSession, world: World
) -> None:
    province = await factories.facility(session, level=FacilityLevel.provincial)
    district = await factories.facility(session, parent=province)
    chair = await factories.user(session, facility=province)
    consultation = await factories.consultation(
        session,
        host=province,
        requesting=district,
        cases=[world.case],
        chair=chair,
        status=ConsultationStatus.ended,
    )
    session.add(
        Minutes(
            consultation_id=consultation.id,
            case_id=world.case.id,
            conclusion="Nhồi máu cơ tim",
            status=MinutesStatus.final,
        )
    )
    await session.commit()
    assert await _kinds(session, world) == {"half-finished"}
    await session.execute(
        sa.update(Minutes).values(finalized_by=chair.id, finalized_at=sa.func.now())
    )
    await session.commit()
    assert await _kinds(session, world) == set()
    session.add(Attendance(consultation_id=consultation.id, user_id=chair.id, peer_id="p1"))
    await session.commit()
    assert await _kinds(session, world) == {"half-finished"}


async def test_an_edited_audit_event_is_found(session: AsyncSession, world: World) -> None:
    await audit.record_now(session, actor=Actor.system("test"), action="admin")
    await session.execute(
        sa.update(AuditEvent).where(AuditEvent.seq == 1).values(actor_name="ai-do-khac")
    )
    await session.commit()
    report = await check(session=session, blobs=world.store)
    assert report.kinds() == {"audit-chain"}


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data
