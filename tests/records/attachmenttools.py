"""The world the attachment tests share: people, cases, a blob store, and upload helpers."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import factories
from dicomstudy import anonymised
from PIL import Image
from pydicom.data import get_testdata_file
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import func, select

from records.actor import Actor
from records.blobs import BlobStore
from records.models import Attachment, AttachmentKind, Case, FacilityLevel, ParticipantRole, Role
from records.render import DEFAULT_MAX_PIXELS, Renderer
from records.services import attachments

MB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + b"%" * 5000 + b"\n%%EOF\n"


def png_bytes(width: int = 40, height: int = 30, color: str = "red") -> bytes:
    """A small PNG of one colour."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def ct_bytes() -> bytes:
    """The small CT slice that ships with pydicom, its patient left out (anonymised)."""
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    return anonymised(Path(str(path)).read_bytes())


async def chunks_of(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    """The bytes as an upload streams them."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    """Everything a download streams."""
    out = bytearray()
    async for chunk in chunks:
        out += chunk
    return bytes(out)


@dataclass
class World:
    """The people, cases and stores the attachment tests work with."""

    store: BlobStore
    renderer: Renderer
    doctor: Actor
    other_doctor: Actor
    specialist: Actor
    outsider: Actor
    case: Case
    other_case: Case


async def attachment_world(session: AsyncSession, store_dir: Path, renderer: Renderer) -> World:
    """Two district facilities under a province, a case of each, a specialist invited to one."""
    province = await factories.facility(session, level=FacilityLevel.provincial)
    district = await factories.facility(session, parent=province)
    elsewhere = await factories.facility(session, parent=province)
    doc = await factories.user(session, facility=district)
    other = await factories.user(session, facility=elsewhere)
    spec = await factories.user(session, facility=province, role=Role.specialist)
    outsider = await factories.user(session, facility=province, role=Role.specialist)
    patient = await factories.patient(session, facility=district)
    case = await factories.case(session, patient=patient, author=doc)
    other_patient = await factories.patient(session, facility=elsewhere, full_name="Lê Văn Tám")
    other_case = await factories.case(session, patient=other_patient, author=other)
    await factories.consultation(
        session,
        host=province,
        requesting=district,
        cases=[case],
        participants={spec.id: ParticipantRole.specialist},
    )
    return World(
        store=BlobStore(store_dir),
        renderer=renderer,
        doctor=Actor.of(doc),
        other_doctor=Actor.of(other),
        specialist=Actor.of(spec),
        outsider=Actor.of(outsider),
        case=case,
        other_case=other_case,
    )


async def upload(
    session: AsyncSession,
    w: World,
    data: bytes,
    *,
    actor: Actor | None = None,
    case: Case | None = None,
    kind: AttachmentKind | str = AttachmentKind.lab,
    filename: str = "ket-qua.pdf",
    max_bytes: int = 10 * MB,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Attachment:
    """Upload ``data`` to the world's case (or ``case``) as its doctor (or ``actor``)."""
    return await attachments.upload(
        session=session,
        blobs=w.store,
        actor=actor or w.doctor,
        case_id=(case or w.case).id,
        kind=kind,
        filename=filename,
        chunks=chunks_of(data),
        max_bytes=max_bytes,
        description="Xét nghiệm máu ngày 28/11",
        max_pixels=max_pixels,
    )


async def count_rows(session: AsyncSession) -> int:
    """How many attachment rows there are."""
    return int((await session.execute(select(func.count()).select_from(Attachment))).scalar_one())


async def put(
    session: AsyncSession,
    w: World,
    name: str,
    data: bytes,
    *,
    confirm: bool = False,
    kind: AttachmentKind = AttachmentKind.dicom,
) -> Attachment:
    """A file uploaded by the world's doctor to their case (a DICOM file unless told)."""
    return await attachments.upload(
        session=session,
        blobs=w.store,
        actor=w.doctor,
        case_id=w.case.id,
        kind=kind,
        filename=name,
        chunks=chunks_of(data),
        max_bytes=10 * 1024 * 1024,
        confirm_identity=confirm,
    )
