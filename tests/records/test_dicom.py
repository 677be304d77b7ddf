"""DICOM: key facts from the header, and a windowed, downscaled PNG of the first frame."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hostile import PeakRss, deflated_dicom, rle_dicom
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from records import dicom
from records.errors import Invalid
from records.sniff import sniff


def sample(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None
    return Path(str(path))


def synthetic(
    path: Path,
    pixels: np.ndarray,
    *,
    window: tuple[float, float] | None = None,
    photometric: str = "MONOCHROME2",
) -> Path:
    """Write a small uncompressed 16-bit DICOM file with the given pixels."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.PatientName = "Nguyen^Van^A"
    ds.PatientID = "BN000123"
    ds.StudyDate = "20251130"
    ds.StudyDescription = "CT NGUC"
    ds.BodyPartExamined = "CHEST"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def decode(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(png))


def test_meta_of_the_bundled_ct() -> None:
    meta = dicom.read_meta(sample("CT_small.dcm"))
    assert meta["modality"] == "CT"
    assert meta["study_date"] == "2004-01-19"
    assert meta["rows"] == 128 and meta["columns"] == 128 and meta["frames"] == 1
    assert meta["institution"] == "JFK IMAGING CENTER"


def test_meta_keeps_no_patient_identifiers(tmp_path: Path) -> None:
    path = synthetic(tmp_path / "a.dcm", np.zeros((8, 8)))
    meta = dicom.read_meta(path)
    assert meta["body_part"] == "CHEST" and meta["study_description"] == "CT NGUC"
    flat = repr(meta)
    assert "Nguyen" not in flat and "BN000123" not in flat


def test_the_bundled_ct_is_sniffed_as_dicom() -> None:
    head = sample("CT_small.dcm").read_bytes()[:4096]
    assert sniff(head).content_type == "application/dicom"


def test_ct_renders_to_png() -> None:
    im = decode(dicom.render_png(sample("CT_small.dcm")))
    assert im.size == (128, 128) and im.mode == "L"
    lo, hi = im.getextrema()
    assert lo == 0 and hi == 255  # no window in the file: min/max stretch


def test_multiframe_colour_renders_first_frame() -> None:
    path = sample("examples_ybr_color.dcm")
    assert dicom.read_meta(path)["frames"] == 30
    im = decode(dicom.render_png(path))
    assert im.mode == "RGB" and im.size == (320, 240)


def test_large_image_is_downscaled(tmp_path: Path) -> None:
    pixels = np.tile(np.arange(1500, dtype=np.uint16), (2000, 1))
    path = synthetic(tmp_path / "big.dcm", pixels)
    im = decode(dicom.render_png(path))
    assert max(im.size) == 1024 and im.size == (768, 1024)
    small = decode(dicom.render_png(path, max_size=256))
    assert max(small.size) == 256


def test_window_from_tags_and_monochrome1(tmp_path: Path) -> None:
    pixels = np.array([[0, 100, 200, 300, 400, 1000]] * 2, dtype=np.uint16)
    path = synthetic(tmp_path / "w.dcm", pixels, window=(250.0, 201.0))
    row = np.asarray(decode(dicom.render_png(path)))[0]
    assert list(row[:2]) == [0, 0] and list(row[-2:]) == [255, 255]
    assert 100 < row[3] < 255  # 300 is inside the window 150..350
    inverted = synthetic(
        tmp_path / "m1.dcm", pixels, window=(250.0, 201.0), photometric="MONOCHROME1"
    )
    row1 = np.asarray(decode(dicom.render_png(inverted)))[0]
    assert list(row1[:2]) == [255, 255] and list(row1[-2:]) == [0, 0]


def test_damaged_and_imageless_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 50)
    with pytest.raises(Invalid):
        dicom.read_meta(bad)
    with pytest.raises(Invalid):
        dicom.render_png(bad)
    with pytest.raises(Invalid):
        dicom.render_png(sample("rtplan.dcm"))


def test_shrinking_averages_blocks_and_keeps_small_frames() -> None:
    frame = np.arange(3000 * 2500, dtype=np.uint16).reshape(3000, 2500) % 4096
    small = dicom.shrink(frame, 1024)
    # 3000 // 1024 = 2: blocks of 2 × 2, the longer side between 1024 and 2048.
    assert small.shape == (1500, 1250) and small.dtype == np.float32
    assert small[7, 9] == frame[14:16, 18:20].mean()
    colour = np.ones((4100, 2100, 3), dtype=np.uint8)
    assert dicom.shrink(colour, 1024).shape == (1025, 525, 3)
    tiny = np.zeros((2047, 10), dtype=np.uint8)
    assert dicom.shrink(tiny, 1024) is tiny


def test_a_large_frame_is_rendered_without_a_floating_point_copy(tmp_path: Path) -> None:
    # 8000 × 8000 8-bit pixels, a 1 MB file: 64 MB decoded, 512 MB as a float64 copy.
    path = rle_dicom(tmp_path / "lon.dcm", rows=8000, columns=8000)
    peak = PeakRss()
    peak.start()
    im = decode(dicom.render_png(path))
    assert im.size == (1024, 1024) and im.getextrema() == (0, 0)
    # The decoder's own buffers cost about three bytes a pixel; any float copy of the frame
    # (4 or 8 bytes a pixel) on top of them goes past four.
    assert peak.growth_mb < 8000 * 8000 * 4 / 2**20


def test_a_deflated_file_is_read_without_inflating_its_pixels(tmp_path: Path) -> None:
    # 400 MB of zeros deflated to under 2 MB: reading the header must not inflate them.
    path = deflated_dicom(tmp_path / "nen.dcm", rows=20000, columns=20000)
    peak = PeakRss()
    peak.start()
    meta = dicom.read_meta(path)
    assert (meta["rows"], meta["columns"], meta["modality"]) == (20000, 20000, "OT")
    assert dicom.frame_size(path) == (20000, 20000)
    assert peak.growth_mb < 64
