"""Synthetic CT studies written with pydicom and the encoders of its plugins (nothing committed).

A phantom: a body ellipse of soft tissue (40 HU) in air (-1000 HU) with a bone ring (700 HU)
and a lung-like dark region (-800 HU) that moves along the stack, so each slice differs. Each
series can be stored in its own transfer syntax: uncompressed, JPEG lossless (imagecodecs'
libjpeg-turbo), JPEG-LS (imagecodecs' CharLS), JPEG 2000 (pylibjpeg-openjpeg, through
pydicom's own ``compress``) or RLE (pydicom's own encoder).
"""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import imagecodecs
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    generate_uid,
)

INTERCEPT = -1024
SLOPE = 1


@dataclass(frozen=True)
class Who:
    """The patient a generated study names."""

    patient_id: str = "BN000123"
    name: str = "NGUYEN^VAN^A"
    birth: str = "19700101"


def phantom(rows: int, columns: int, z: float, noise: float = 0.0) -> np.ndarray:
    """Hounsfield units of one slice at height ``z`` (mm)."""
    yy, xx = np.mgrid[0:rows, 0:columns].astype(np.float32)
    cy, cx = rows / 2, columns / 2
    r = ((yy - cy) / (rows * 0.42)) ** 2 + ((xx - cx) / (columns * 0.45)) ** 2
    hu = np.full((rows, columns), -1000.0, dtype=np.float32)
    hu[r < 1.0] = 40.0
    hu[(r > 0.85) & (r < 1.0)] = 700.0
    lx = cx - columns * 0.18 + (z % 40) * columns / 400
    lung = ((yy - cy) / (rows * 0.2)) ** 2 + ((xx - lx) / (columns * 0.12)) ** 2
    hu[lung < 1.0] = -800.0
    if noise:
        # Scanner noise, so that compressed sizes are near a real CT's.
        rng = np.random.default_rng(int(abs(z) * 100))
        hu += rng.normal(0.0, noise, hu.shape).astype(np.float32)
    return hu


def _encode(pixels: np.ndarray, syntax: UID) -> bytes:
    if syntax == JPEGLosslessSV1:
        return bytes(imagecodecs.jpeg8_encode(pixels, lossless=True, bitspersample=12))
    if syntax == JPEGLSLossless:
        return bytes(imagecodecs.jpegls_encode(pixels))
    raise ValueError(syntax)


def ct_slice(
    *,
    study_uid: str,
    series_uid: str,
    series_number: int,
    instance: int,
    z: float,
    syntax: UID = ExplicitVRLittleEndian,
    rows: int = 64,
    columns: int = 64,
    spacing: float = 0.7,
    who: Who = Who(),
    description: str = "",
    noise: float = 0.0,
) -> Dataset:
    """One axial CT slice at height ``z`` in the given transfer syntax."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.InstanceNumber = instance
    ds.Modality = "CT"
    ds.BodyPartExamined = "CHEST"
    ds.StudyDate = "20261130"
    ds.StudyDescription = "CT LONG NGUC"
    ds.SeriesDescription = description or f"Series {series_number}"
    ds.PatientID = who.patient_id
    ds.PatientName = who.name
    ds.PatientBirthDate = who.birth
    ds.ImagePositionPatient = [-columns * spacing / 2, -rows * spacing / 2, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [spacing, spacing]
    ds.SliceThickness = 1.0
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = INTERCEPT
    ds.RescaleSlope = SLOPE
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    stored = np.clip(np.rint(phantom(rows, columns, z, noise)) - INTERCEPT, 0, 4095).astype(
        np.uint16
    )
    if syntax in (JPEGLosslessSV1, JPEGLSLossless):
        ds.PixelData = encapsulate([_encode(stored, syntax)])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = syntax
    else:
        ds.PixelData = stored.tobytes()
        if syntax != ExplicitVRLittleEndian:
            plugin = "pylibjpeg" if syntax == JPEG2000Lossless else ""
            ds.compress(syntax, encoding_plugin=plugin)
    return ds


def to_bytes(ds: Dataset) -> bytes:
    """The dataset as a DICOM file."""
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@dataclass
class Study:
    """A generated study: its UID, its series' UIDs in order, and its files by name."""

    study_uid: str
    series_uids: list[str]
    files: dict[str, bytes]


SYNTAXES: tuple[UID, ...] = (ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLosslessSV1)


def ct_study(
    *,
    slices: tuple[int, ...] = (60, 50, 40),
    syntaxes: tuple[UID, ...] = SYNTAXES,
    rows: int = 64,
    columns: int = 64,
    who: Who = Who(),
    shuffle: bool = True,
) -> Study:
    """A CT study of several series (default 150 slices), files named in a shuffled order.

    Instance numbers run against the position in the last series, so an order by number alone
    would be wrong there: the position along the slice normal decides.
    """
    study_uid = generate_uid()
    series_uids = [generate_uid() for _ in slices]
    files: list[tuple[str, bytes]] = []
    for s, (count, syntax, series_uid) in enumerate(
        zip(slices, syntaxes, series_uids, strict=True)
    ):
        for i in range(count):
            instance = count - i if s == len(slices) - 1 else i + 1
            ds = ct_slice(
                study_uid=study_uid,
                series_uid=series_uid,
                series_number=s + 1,
                instance=instance,
                z=-100.0 + i * 1.25,
                syntax=syntax,
                rows=rows,
                columns=columns,
                who=who,
            )
            files.append((f"s{s + 1}/IM{len(files):05d}.dcm", to_bytes(ds)))
    if shuffle:
        random.Random(12).shuffle(files)
    return Study(study_uid, series_uids, dict(files))


def zipped(files: dict[str, bytes]) -> bytes:
    """The files as a ZIP archive, as a PACS export or a CD copy would give them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    """The files as a folder tree under ``root``."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def birth(d: date) -> str:
    """A date as DICOM writes it."""
    return d.strftime("%Y%m%d")


def anonymised(data: bytes) -> bytes:
    """A DICOM file with its patient's ID, name and birth date emptied."""
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.PatientID, ds.PatientName, ds.PatientBirthDate = "", "", ""
    return to_bytes(ds)
