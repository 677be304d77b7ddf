"""Imaging studies: grouping, order, transfer syntaxes, identity, ZIP, pixels, access."""

from __future__ import annotations

import gzip
import io
import uuid
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from attachmenttools import World, attachment_world, chunks_of, put
from dicomstudy import Who, ct_slice, ct_study, phantom, to_bytes, zipped
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from records import dicom_pixels, imaging
from records.errors import Invalid, NotFound
from records.models import Attachment, AttachmentKind, AuditEvent, Patient
from records.render import PreviewRefused, Renderer
from records.services import imaging as svc
from records.services.attachments import IdentityMismatch
from records.services.imaging_zip import ZipLimits, upload_zip

CASE_ID = uuid.uuid4()


def planes(body: bytes) -> np.ndarray:
    """16-bit samples from their two byte planes (low bytes, then high bytes)."""
    half = len(body) // 2
    low = np.frombuffer(body[:half], dtype=np.uint8).astype(np.uint16)
    high = np.frombuffer(body[half:], dtype=np.uint8).astype(np.uint16)
    return (low | (high << 8)).view(np.int16)


@pytest.fixture
async def world(session: AsyncSession, tmp_path: Path, renderer: Renderer) -> World:
    w = await attachment_world(session, tmp_path / "blobs", renderer)
    patient = await session.get(Patient, w.case.patient_id)
    assert patient is not None
    # The generated studies name this patient.
    patient.mrn, patient.full_name = "BN000123", "Nguyễn Văn A"
    patient.birth_date, patient.birth_year = date(1970, 1, 1), 1970
    session.add(patient)
    await session.commit()
    return w


async def test_a_three_series_study_uploaded_file_by_file_is_one_ordered_study(
    session: AsyncSession, world: World
) -> None:
    study = ct_study(slices=(60, 50, 40))
    for name, data in study.files.items():
        await put(session, world, name, data)
    [found] = await svc.studies_for_case(session=session, actor=world.doctor, case_id=world.case.id)
    assert found.uid == study.study_uid and found.slice_count == 150
    assert [s.uid for s in found.series] == study.series_uids
    assert [len(s.slices) for s in found.series] == [60, 50, 40]
    assert found.modality == "CT" and found.body_part == "CHEST"
    for series in found.series:
        locations = [s.location for s in series.slices]
        assert locations == sorted(locations)  # inferior to superior, whatever the file order
    # The last series numbers its instances against the position: position wins.
    assert [s.instance_number for s in found.series[2].slices][:3] == [40, 39, 38]
    syntaxes = {
        s.uid: {(a.meta or {}).get("transfer_syntax") for a in s.attachments} for s in found.series
    }
    assert syntaxes[study.series_uids[1]] == {JPEG2000Lossless}
    assert syntaxes[study.series_uids[2]] == {JPEGLosslessSV1}


def test_slices_order_along_the_normal_of_a_sagittal_series() -> None:
    series_uid, study_uid = generate_uid(), generate_uid()
    rows = []
    # Sagittal: rows along y, columns along -z; the normal is -x.
    for i, x in enumerate([5.0, -5.0, 0.0]):
        meta = {
            "study_uid": study_uid,
            "series_uid": series_uid,
            "position": [x, 0.0, 0.0],
            "orientation": [0, 1, 0, 0, 0, -1],
            "instance_number": i,
            "frames": 1,
        }
        rows.append(
            Attachment(
                case_id=CASE_ID,
                kind=AttachmentKind.dicom,
                filename=f"{i}.dcm",
                content_type="application/dicom",
                size=1,
                sha256="0" * 64,
                meta=meta,
            )
        )
    [study] = imaging.group(CASE_ID, rows)
    assert [s.position[0] for s in study.series[0].slices if s.position] == [5.0, 0.0, -5.0]


def test_a_multi_frame_file_is_a_series_of_frames() -> None:
    row = Attachment(
        case_id=CASE_ID,
        kind=AttachmentKind.dicom,
        filename="cine.dcm",
        content_type="application/dicom",
        size=1,
        sha256="0" * 64,
        meta={"study_uid": "1.2", "series_uid": "1.2.3", "frames": 12},
    )
    [study] = imaging.group(CASE_ID, [row])
    assert [s.frame for s in study.series[0].slices] == list(range(12))


@pytest.mark.parametrize(
    "syntax",
    [ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLosslessSV1, JPEGLSLossless, RLELossless],
)
def test_every_transfer_syntax_packs_to_the_exact_stored_values(
    tmp_path: Path, syntax: str
) -> None:
    ds = ct_slice(
        study_uid="1.2", series_uid="1.3", series_number=1, instance=1, z=3, syntax=syntax
    )
    path = tmp_path / "a.dcm"
    path.write_bytes(to_bytes(ds))
    packed, facts = dicom_pixels.pack(path)
    raw = gzip.decompress(packed)
    magic, version, kind, width, height, slope, intercept = dicom_pixels.HEAD.unpack(raw[:24])
    assert (magic, kind, width, height) == (b"TMPX", dicom_pixels.INT16, 64, 64)
    assert version == 2
    values = planes(raw[24:]).reshape(64, 64) * slope + intercept
    assert np.array_equal(values, np.clip(np.rint(phantom(64, 64, 3)), -1024, 3071))
    assert facts["factor"] == 1.0


def test_a_first_pass_is_the_block_average_at_a_quarter_of_the_samples(tmp_path: Path) -> None:
    ds = ct_slice(
        study_uid="1.2", series_uid="1.3", series_number=1, instance=1, z=3, rows=512, columns=512
    )
    path = tmp_path / "a.dcm"
    path.write_bytes(to_bytes(ds))
    full = gzip.decompress(dicom_pixels.pack(path)[0])
    small, facts = dicom_pixels.pack(path, max_size=dicom_pixels.FIRST_PASS_SIZE)
    raw = gzip.decompress(small)
    _, _, kind, width, height, slope, intercept = dicom_pixels.HEAD.unpack(raw[:24])
    assert (kind, width, height, facts["factor"]) == (dicom_pixels.INT16, 256, 256, 2.0)
    assert [height, width] == list(dicom_pixels.packed_size(512, 512, 256))
    assert dicom_pixels.packed_size(512, 512) == (512, 512)
    stored = planes(full[24:]).reshape(512, 512).astype(np.float64)
    means = stored.reshape(256, 2, 256, 2).mean(axis=(1, 3))
    assert np.array_equal(planes(raw[24:]).reshape(256, 256), np.rint(means).astype(np.int16))
    assert len(raw) - 24 == (len(full) - 24) // 4


def test_a_jpeg_baseline_file_decodes(tmp_path: Path) -> None:
    import imagecodecs
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    ds = ct_slice(study_uid="1.2", series_uid="1.3", series_number=1, instance=1, z=0)
    gray = np.linspace(0, 255, 64 * 64).reshape(64, 64).astype(np.uint8)
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelData = encapsulate([bytes(imagecodecs.jpeg8_encode(gray, level=95))])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    path = tmp_path / "b.dcm"
    path.write_bytes(to_bytes(ds))
    raw = gzip.decompress(dicom_pixels.pack(path)[0])
    values = planes(raw[24:]).reshape(64, 64)
    assert abs(int(values[0, 0]) - 0) < 8 and abs(int(values[-1, -1]) - 255) < 8


async def test_an_undecodable_file_is_kept_and_refused_with_a_reason(
    session: AsyncSession, world: World
) -> None:
    ds = ct_slice(
        study_uid=generate_uid(), series_uid=generate_uid(), series_number=1, instance=1, z=0
    )
    ds.PixelData = encapsulate_junk()
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    a = await put(session, world, "hong.dcm", to_bytes(ds))
    [study] = await svc.studies_for_case(session=session, actor=world.doctor, case_id=world.case.id)
    assert study.slice_count == 1
    with pytest.raises(PreviewRefused) as refused:
        await svc.slice_pixels(
            session=session,
            blobs=world.store,
            renderer=world.renderer,
            actor=world.doctor,
            attachment_id=a.id,
            frame=0,
        )
    assert "JPEG 2000" in refused.value.message
    # Remembered: the second view answers without a worker.
    jobs = world.renderer.stats.jobs
    with pytest.raises(Invalid):
        await svc.slice_pixels(
            session=session,
            blobs=world.store,
            renderer=world.renderer,
            actor=world.doctor,
            attachment_id=a.id,
            frame=0,
        )
    assert world.renderer.stats.jobs == jobs


def encapsulate_junk() -> bytes:
    from pydicom.encaps import encapsulate

    return encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 300])


async def test_another_patients_study_needs_confirmation_and_the_decision_is_audited(
    session: AsyncSession, world: World
) -> None:
    other = Who(patient_id="BN999", name="LE^THI^C", birth="19851231")
    ds = ct_slice(
        study_uid=generate_uid(),
        series_uid=generate_uid(),
        series_number=1,
        instance=1,
        z=0,
        who=other,
    )
    with pytest.raises(IdentityMismatch) as refused:
        await put(session, world, "a.dcm", to_bytes(ds))
    assert set(refused.value.fields) == {"patient_id", "patient_name", "birth_date"}
    assert "BN999" in str(refused.value.fields["patient_id"])
    rows = (await session.execute(select(Attachment))).scalars().all()
    assert rows == []
    a = await put(session, world, "a.dcm", to_bytes(ds), confirm=True)
    event = (
        await session.execute(
            select(AuditEvent).where(
                AuditEvent.object_id == str(a.id), AuditEvent.action == "create"
            )
        )
    ).scalar_one()
    assert event.detail["identity_confirmed"]["patient_id"] == ["BN999", "BN000123"]


def test_names_compare_without_accents_order_or_case() -> None:
    p = Patient(mrn="BN1", full_name="Nguyễn Văn A", sex="male", facility_id=CASE_ID)
    assert imaging.differences({"patient_name": "NGUYEN^A^VAN", "patient_id": "bn1"}, p) == {}
    p.birth_year = 1970
    assert "birth_date" in imaging.differences({"birth_date": "19710203"}, p)
    assert imaging.differences({"birth_date": "19700203"}, p) == {}


async def test_a_zip_of_a_study_becomes_one_study_and_skips_what_is_not_dicom(
    session: AsyncSession, world: World
) -> None:
    study = ct_study(slices=(5, 4, 3))
    files = dict(study.files)
    files["DICOMDIR"] = b"x"
    files["readme.txt"] = b"not an image"
    files["__MACOSX/._IM1"] = b"fork"
    result = await upload_zip(
        session=session,
        blobs=world.store,
        actor=world.doctor,
        case_id=world.case.id,
        chunks=chunks_of(zipped(files)),
        max_bytes=10 * 1024 * 1024,
    )
    assert len(result.created) == 12
    assert [name for name, _ in result.skipped] == ["readme.txt"]
    [found] = await svc.studies_for_case(session=session, actor=world.doctor, case_id=world.case.id)
    assert [len(s.slices) for s in found.series] == [5, 4, 3]


async def test_a_zip_bomb_is_refused_before_anything_is_unpacked(
    session: AsyncSession, world: World
) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.dcm", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(Invalid):
        await upload_zip(
            session=session,
            blobs=world.store,
            actor=world.doctor,
            case_id=world.case.id,
            chunks=chunks_of(buf.getvalue()),
            max_bytes=100 * 1024 * 1024,
        )
    many = {f"{i}.dcm": b"x" for i in range(30)}
    with pytest.raises(Invalid):
        await upload_zip(
            session=session,
            blobs=world.store,
            actor=world.doctor,
            case_id=world.case.id,
            chunks=chunks_of(zipped(many)),
            max_bytes=1024,
            limits=ZipLimits(max_entries=20),
        )
    with pytest.raises(Invalid):
        await upload_zip(
            session=session,
            blobs=world.store,
            actor=world.doctor,
            case_id=world.case.id,
            chunks=chunks_of(b"not a zip at all"),
            max_bytes=1024,
        )
    assert (await session.execute(select(Attachment))).scalars().all() == []
    assert list(world.store.tmp_dir.glob("*")) == []


async def test_a_zip_of_another_patient_stops_before_storing_anything(
    session: AsyncSession, world: World
) -> None:
    study = ct_study(slices=(3,), syntaxes=(ExplicitVRLittleEndian,), who=Who(patient_id="X9"))
    with pytest.raises(IdentityMismatch):
        await upload_zip(
            session=session,
            blobs=world.store,
            actor=world.doctor,
            case_id=world.case.id,
            chunks=chunks_of(zipped(study.files)),
            max_bytes=1024 * 1024,
        )
    assert (await session.execute(select(Attachment))).scalars().all() == []


async def test_pixels_are_cached_audited_once_and_hidden_from_other_facilities(
    session: AsyncSession, world: World
) -> None:
    study = ct_study(slices=(3,), syntaxes=(JPEG2000Lossless,), shuffle=False)
    for name, data in study.files.items():
        await put(session, world, name, data)
    [found] = await svc.studies_for_case(session=session, actor=world.doctor, case_id=world.case.id)
    first = found.series[0].slices[0]
    for reader in (world.doctor, world.specialist):
        got = await svc.get_study(
            session=session, actor=reader, case_id=world.case.id, study=found.id
        )
        assert got.uid == study.study_uid
        for s in found.series[0].slices:
            px = await svc.slice_pixels(
                session=session,
                blobs=world.store,
                renderer=world.renderer,
                actor=reader,
                attachment_id=s.attachment_id,
                frame=s.frame,
            )
            assert gzip.decompress(px.data)[:4] == b"TMPX"
    assert world.renderer.stats.jobs == 3  # once per content, whoever asks
    # The first pass is packed and cached on its own: asked twice, made once.
    for _ in range(2):
        rough = await svc.slice_pixels(
            session=session,
            blobs=world.store,
            renderer=world.renderer,
            actor=world.doctor,
            attachment_id=first.attachment_id,
            frame=first.frame,
            first_pass=True,
        )
        assert gzip.decompress(rough.data)[:4] == b"TMPX"
    assert world.renderer.stats.jobs == 4
    views = (
        (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "view", AuditEvent.object_type == "imaging-study"
                )
            )
        )
        .scalars()
        .all()
    )
    assert sorted(str(v.actor_id) for v in views) == sorted(
        [str(world.doctor.user_id), str(world.specialist.user_id)]
    )
    for outsider in (world.other_doctor, world.outsider):
        with pytest.raises(NotFound):
            await svc.get_study(
                session=session, actor=outsider, case_id=world.case.id, study=found.id
            )
        with pytest.raises(NotFound):
            await svc.slice_pixels(
                session=session,
                blobs=world.store,
                renderer=world.renderer,
                actor=outsider,
                attachment_id=first.attachment_id,
                frame=0,
            )
    with pytest.raises(NotFound):
        await svc.slice_pixels(
            session=session,
            blobs=world.store,
            renderer=world.renderer,
            actor=world.doctor,
            attachment_id=first.attachment_id,
            frame=1,
        )


async def test_warming_packs_the_slice_each_series_opens_on_once(
    session: AsyncSession, world: World
) -> None:
    study = ct_study(slices=(5, 3), syntaxes=(JPEG2000Lossless,) * 2, shuffle=False)
    for name, data in study.files.items():
        await put(session, world, name, data)
    studies = await svc.studies_for_case(session=session, actor=world.doctor, case_id=world.case.id)
    before = world.renderer.stats.jobs
    # Two series, the middle slice of each, the first pass and the full frame.
    assert await svc.warm(blobs=world.store, renderer=world.renderer, studies=studies) == 4
    assert world.renderer.stats.jobs == before + 4
    assert await svc.warm(blobs=world.store, renderer=world.renderer, studies=studies) == 0
    # The viewer's first request is then answered from the cache.
    middle = studies[0].series[0].slices[2]
    for first_pass in (True, False):
        await svc.slice_pixels(
            session=session,
            blobs=world.store,
            renderer=world.renderer,
            actor=world.specialist,
            attachment_id=middle.attachment_id,
            frame=middle.frame,
            first_pass=first_pass,
        )
    assert world.renderer.stats.jobs == before + 4
