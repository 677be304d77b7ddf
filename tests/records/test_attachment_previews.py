"""Previews of attachments on both databases: rendered in a worker, cached, flagged, audited."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from attachmenttools import PDF, World, attachment_world, count_rows, ct_bytes, upload
from hostile import png_header, rle_dicom
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from records.actor import Actor
from records.errors import Invalid
from records.models import Attachment, AttachmentKind, AuditEvent
from records.render import PreviewRefused, Renderer, RenderFailed, RenderLimits
from records.render.pool import OUT_OF_MEMORY
from records.services import attachment_previews


@pytest.fixture
async def world(session: AsyncSession, tmp_path: Path, renderer: Renderer) -> World:
    """People of three facilities, a case with a specialist invited, a blob store."""
    return await attachment_world(session, tmp_path / "blobs", renderer)


async def preview(
    session: AsyncSession,
    world: World,
    attachment: Attachment,
    *,
    actor: Actor | None = None,
    renderer: Renderer | None = None,
) -> tuple[bytes, str]:
    """The attachment's preview as its case's doctor (or ``actor``) asks for it."""
    return await attachment_previews.preview(
        session=session,
        blobs=world.store,
        renderer=renderer or world.renderer,
        actor=actor or world.doctor,
        attachment_id=attachment.id,
    )


async def preview_views(session: AsyncSession) -> list[uuid.UUID | None]:
    """Who was audited viewing a preview, in order."""
    rows = await session.execute(
        select(AuditEvent.actor_id, AuditEvent.detail)
        .where(AuditEvent.action == "view", AuditEvent.object_type == "attachment")
        .order_by(col(AuditEvent.seq))
    )
    return [actor for actor, detail in rows.all() if detail.get("preview")]


async def test_dicom_meta_and_preview(session: AsyncSession, world: World) -> None:
    data = ct_bytes()
    a = await upload(session, world, data, kind=AttachmentKind.imaging, filename="CT.dcm")
    assert a.kind == AttachmentKind.dicom and a.content_type == "application/dicom"
    assert a.meta["modality"] == "CT" and a.meta["rows"] == 128 and a.meta["frames"] == 1
    assert a.meta["study_date"] == "2004-01-19"
    png, ctype = await preview(session, world, a, actor=world.specialist)
    assert ctype == "image/png"
    im = Image.open(io.BytesIO(png))
    im.load()
    assert im.size == (128, 128)
    # The second preview comes from the cache, byte for byte.
    again, _ = await preview(session, world, a)
    assert again == png
    # Each preview shown is a view of the file, audited for the person who saw it.
    assert await preview_views(session) == [world.specialist.user_id, world.doctor.user_id]


async def test_photo_preview_is_scaled_down(session: AsyncSession, world: World) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (3000, 2000), "white").save(buf, format="JPEG")
    a = await upload(
        session, world, buf.getvalue(), kind=AttachmentKind.photo, filename="vet-thuong.jpg"
    )
    assert a.meta == {"width": 3000, "height": 2000}
    data, ctype = await preview(session, world, a)
    assert ctype == "image/jpeg" and Image.open(io.BytesIO(data)).size == (1024, 683)
    pdf = await upload(session, world, PDF)
    with pytest.raises(Invalid):
        await preview(session, world, pdf)


async def test_an_oversized_picture_is_kept_flagged_and_never_decoded(
    session: AsyncSession, world: World, tmp_path: Path
) -> None:
    # 20000 × 20000 pixels in a 6 MB file: 3.2 GB as one float64 copy of the frame.
    huge = rle_dicom(tmp_path / "lon.dcm", rows=20000, columns=20000).read_bytes()
    scan = await upload(session, world, huge, kind=AttachmentKind.dicom, filename="lon.dcm")
    assert scan.meta["no_preview"] == "too-large"
    assert (scan.meta["rows"], scan.meta["columns"]) == (20000, 20000)
    # Pillow refuses even to report a size past 179 million pixels; the photo is kept anyway.
    photo = await upload(
        session, world, png_header(12000, 9000), kind=AttachmentKind.photo, filename="a.png"
    )
    bomb = await upload(
        session, world, png_header(30000, 30000), kind=AttachmentKind.photo, filename="b.png"
    )
    assert photo.meta == {"width": 12000, "height": 9000, "no_preview": "too-large"}
    assert bomb.meta == {"no_preview": "too-large"}
    messages = []
    for a in (scan, photo, bomb):
        assert world.store.exists(a.sha256)
        with pytest.raises(PreviewRefused) as err:
            await preview(session, world, a)
        messages.append(err.value.message)
    assert "20000 × 20000" in messages[0] and "12000 × 9000" in messages[1]
    assert all("hãy tải về" in m for m in messages)
    assert world.renderer.stats.jobs == 0
    assert await count_rows(session) == 3
    # Nothing was shown, so nothing was viewed.
    assert await preview_views(session) == []


async def test_a_failed_render_is_remembered_for_its_limits(
    session: AsyncSession, world: World, tmp_path: Path
) -> None:
    # Under the pixel limit, but decoding it needs more than a 256 MB worker has.
    data = rle_dicom(tmp_path / "lon.dcm", rows=8000, columns=8000).read_bytes()
    scan = await upload(session, world, data, kind=AttachmentKind.dicom, max_pixels=100_000_000)
    assert "no_preview" not in scan.meta
    ct = await upload(session, world, ct_bytes(), kind=AttachmentKind.dicom)

    tight = RenderLimits(workers=1, memory_mb=256, max_pixels=100_000_000)
    async with Renderer(tight) as renderer:
        for _ in range(2):
            with pytest.raises(RenderFailed) as err:
                await preview(session, world, scan, renderer=renderer)
            assert err.value.message == OUT_OF_MEMORY
        # The second view was answered from the cache: one render, one dead worker.
        assert (renderer.stats.jobs, renderer.stats.failed) == (1, 1)
        png, _ = await preview(session, world, ct, renderer=renderer)
        assert png.startswith(b"\x89PNG")
        assert renderer.stats.workers_started == 2
    # With more memory allowed, the file is tried again, and renders.
    async with Renderer(RenderLimits(workers=1, max_pixels=100_000_000)) as roomier:
        png, ctype = await preview(session, world, scan, renderer=roomier)
        assert ctype == "image/png" and Image.open(io.BytesIO(png)).size == (1024, 1024)
        assert roomier.stats.jobs == 1
