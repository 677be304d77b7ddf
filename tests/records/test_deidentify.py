"""De-identified DICOM copies: the attributes of DICOM PS3.15's Basic Application Level
Confidentiality Profile, the same replacements across a case's files, the pixels untouched, the
burned-in flag; over the service, access, audit and the original left as it was."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from attachmenttools import World, attachment_world, put
from dicomstudy import Who, ct_slice, to_bytes
from pydicom.dataset import Dataset
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from records.deidentify import burned_in, deidentify
from records.errors import Invalid, NotFound
from records.models import Attachment, AttachmentKind, AuditEvent
from records.render import Renderer
from records.services import deidentified

WHO = Who(patient_id="BN000123", name="NGUYEN^VAN^A", birth="19700101")

# Attributes of the Basic Profile with what it asks: X removed, Z/D emptied or replaced by a
# dummy, U replaced by another UID (consistently). Each is set in the fixture to an identifying
# value; none may come out with it.
PROFILE: dict[str, tuple[str, str]] = {
    "PatientName": ("Z", "NGUYEN^VAN^A"),
    "PatientID": ("Z", "BN000123"),
    "PatientBirthDate": ("Z", "19700101"),
    "PatientAddress": ("X", "12 Trần Hưng Đạo, Chơn Thành"),
    "PatientTelephoneNumbers": ("X", "0912345678"),
    "OtherPatientIDs": ("X", "079070001234"),
    "OtherPatientNames": ("X", "NGUYEN^A"),
    "PatientMotherBirthName": ("X", "TRAN^THI^B"),
    "EthnicGroup": ("X", "Kinh"),
    "Occupation": ("X", "Nong dan"),
    "AdditionalPatientHistory": ("X", "Benh nhan Nguyen Van A, tien su tang huyet ap"),
    "PatientComments": ("X", "Goi con trai 0987654321"),
    "ImageComments": ("X", "Nguyen Van A chup lai"),
    "MedicalAlerts": ("X", "Di ung penicillin"),
    "AccessionNumber": ("Z", "ACC20261130001"),
    "StudyID": ("Z", "CT-4711"),
    "ReferringPhysicianName": ("Z", "LE^THI^HOA"),
    "PerformingPhysicianName": ("X", "PHAM^MINH^C"),
    "OperatorsName": ("X", "DO^VAN^D"),
    "InstitutionName": ("X", "TTYT huyen Chon Thanh"),
    "InstitutionAddress": ("X", "Chon Thanh, Binh Phuoc"),
    "StationName": ("X", "CT-CHONTHANH-01"),
    "StudyDate": ("Z", "20261130"),
    "StudyTime": ("Z", "081500"),
    "StudyInstanceUID": ("U", ""),
    "SeriesInstanceUID": ("U", ""),
    "SOPInstanceUID": ("U", ""),
}


def _identified(instance: int, study: str = "1.2.826.0.1.3680043.8.498.7") -> Dataset:
    ds = ct_slice(
        study_uid=study, series_uid=study + ".1", series_number=1, instance=instance, z=instance,
        who=WHO,
    )  # fmt: skip
    for keyword, (_, value) in PROFILE.items():
        if value:
            setattr(ds, keyword, value)
    ds.StudyTime = "081500"
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: the address is in Vietnamese
    ds.BurnedInAnnotation = "NO"
    ds.add_new(0x00090010, "LO", "HOSPITAL PRIVATE")
    ds.add_new(0x00091001, "LO", "NGUYEN VAN A")
    ds.add_new(0x60003000, "OW", b"\x00\x01" * 32)  # overlay data
    ds.add_new(0x60000022, "LO", "Nguyen Van A")  # overlay description
    return ds


def _copy(tmp_path: Path, ds: Dataset, seed: str = "case-1") -> tuple[Dataset, bool]:
    path = tmp_path / f"{ds.InstanceNumber}.dcm"
    path.write_bytes(to_bytes(ds))
    data, burned = deidentify(path, seed=seed)
    return pydicom.dcmread(io.BytesIO(data)), burned


def test_the_basic_profile_leaves_nothing_that_names_the_patient(tmp_path: Path) -> None:
    original = _identified(1)
    copy, burned = _copy(tmp_path, original)
    for keyword, (action, _) in PROFILE.items():
        before = str(original.get(keyword, ""))
        after = str(copy.get(keyword, ""))
        if action == "X":
            assert keyword not in copy or not after or after != before, keyword
        else:
            assert after != before, keyword
    assert copy.PatientIdentityRemoved == "YES"
    assert copy.get("DeidentificationMethod")
    assert not any(tag.is_private for tag in copy.keys())
    assert not any(tag.group & 0xFF00 == 0x6000 for tag in copy.keys())
    # Nothing identifying survives anywhere in the file, not even in a free-text field.
    raw = to_bytes(copy)
    for needle in (b"NGUYEN", b"Nguyen", b"BN000123", b"0912345678", b"19700101", b"Chon Thanh"):
        assert needle not in raw, needle
    # The image itself is untouched; a CT is not flagged for burned-in text.
    assert copy.PixelData == original.PixelData and not burned
    assert copy.Rows == original.Rows and copy.Modality == "CT"


def test_one_case_keeps_its_files_agreeing_and_another_seed_does_not(tmp_path: Path) -> None:
    first, _ = _copy(tmp_path, _identified(1))
    second, _ = _copy(tmp_path, _identified(2))
    other, _ = _copy(tmp_path / "..", _identified(1), seed="case-2")
    assert first.StudyInstanceUID == second.StudyInstanceUID
    assert first.PatientID == second.PatientID and first.PatientName == second.PatientName
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert other.StudyInstanceUID != first.StudyInstanceUID and other.PatientID != first.PatientID
    # The dates move together: the interval between two studies is kept.
    assert first.StudyDate == second.StudyDate


def test_burned_in_text_is_flagged_not_hidden() -> None:
    ds = Dataset()
    ds.Modality = "US"
    assert burned_in(ds)
    ds.BurnedInAnnotation = "NO"
    assert not burned_in(ds)
    ds.Modality, ds.BurnedInAnnotation = "CT", "YES"
    assert burned_in(ds)


@pytest.fixture
async def world(session: AsyncSession, tmp_path: Path, renderer: Renderer) -> World:
    return await attachment_world(session, tmp_path / "blobs", renderer)


async def test_the_service_checks_access_audits_and_keeps_the_original(
    session: AsyncSession, world: World
) -> None:
    data = to_bytes(_identified(1))
    attachment = await put(session, world, "IM0001.dcm", data, confirm=True)
    got = await deidentified.deidentified_dicom(
        session=session,
        blobs=world.store,
        renderer=world.renderer,
        actor=world.specialist,
        attachment_id=attachment.id,
    )
    assert got.filename == "IM0001-an-danh.dcm" and not got.burned_in
    copy = pydicom.dcmread(io.BytesIO(got.data))
    assert str(copy.PatientName) != "NGUYEN^VAN^A" and copy.PatientIdentityRemoved == "YES"
    # Made once, then kept: the second download is the same file, without a new render.
    jobs = world.renderer.stats.jobs
    again = await deidentified.deidentified_dicom(
        session=session,
        blobs=world.store,
        renderer=world.renderer,
        actor=world.doctor,
        attachment_id=attachment.id,
    )
    assert again.data == got.data and world.renderer.stats.jobs == jobs
    # The original is as it was uploaded, and the copy is not one of the case's files.
    stored = b"".join([c async for c in world.store.open(attachment.sha256, size=attachment.size)])
    assert stored == data
    files = await session.execute(select(Attachment).where(Attachment.case_id == world.case.id))
    assert [a.id for a in files.scalars()] == [attachment.id]
    events = (
        (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.object_id == str(attachment.id), AuditEvent.action == "download"
                )
            )
        )
        .scalars()
        .all()
    )
    assert len(events) == 2 and all(e.detail["deidentified"] is True for e in events)
    for outsider in (world.other_doctor, world.outsider):
        with pytest.raises(NotFound):
            await deidentified.deidentified_dicom(
                session=session,
                blobs=world.store,
                renderer=world.renderer,
                actor=outsider,
                attachment_id=attachment.id,
            )


async def test_a_file_that_is_not_dicom_has_no_copy(session: AsyncSession, world: World) -> None:
    pdf = await put(session, world, "xet-nghiem.pdf", b"%PDF-1.4\n%%EOF\n", kind=AttachmentKind.lab)
    with pytest.raises(Invalid):
        await deidentified.deidentified_dicom(
            session=session,
            blobs=world.store,
            renderer=world.renderer,
            actor=world.doctor,
            attachment_id=pdf.id,
        )
