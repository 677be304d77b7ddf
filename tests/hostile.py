"""Hostile pictures built cheaply, and the process's peak memory to show what they cost.

The files declare huge frames while being small on disk, and are written without ever holding
the picture: RLE runs of 128 zeros in two bytes each, a deflated stream fed a megabyte at a time,
a PNG header with no picture behind it. The peak is Linux's high-water mark of resident memory
(``VmHWM``), which writing 5 to ``/proc/self/clear_refs`` resets to the current size.
"""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

MB = 1024 * 1024


def _dataset(syntax: str, rows: int, columns: int) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.StudyDescription = "ANH RAT LON"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    return ds


def rle_segment_of_zeros(count: int) -> bytes:
    """One RLE segment (PS3.5 G.3.1) decoding to ``count`` zero bytes."""
    full, rest = divmod(count, 128)
    segment = b"\x81\x00" * full  # 0x81 = -127: repeat the next byte 128 times
    if rest == 1:
        segment += b"\x00\x00"  # a literal run of one byte
    elif rest:
        segment += bytes([257 - rest, 0])
    if len(segment) % 2:
        segment += b"\x80"  # a no-op header pads the segment to an even length
    return segment


def rle_dicom(path: Path, *, rows: int, columns: int, bits: int = 8, samples: int = 1) -> Path:
    """An RLE Lossless DICOM of one black frame: about rows × columns / 64 bytes a segment.

    One segment per byte of a sample (``bits`` 8 or 16) and per sample (``samples`` 1, grey,
    or 3, RGB).
    """
    segment = rle_segment_of_zeros(rows * columns)
    count = bits // 8 * samples
    offsets = [64 + i * len(segment) for i in range(count)]
    header = struct.pack("<16I", count, *offsets, *([0] * (15 - count)))
    ds = _dataset(RLELossless, rows, columns)
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    if samples == 3:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 1
    ds.PixelData = encapsulate([header + segment * count])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def deflated_dicom(path: Path, *, rows: int, columns: int) -> Path:
    """A Deflated Explicit VR Little Endian DICOM of one black 8-bit frame, deflated as streamed."""
    ds = _dataset(DeflatedExplicitVRLittleEndian, rows, columns)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    size = rows * columns
    # (7FE0,0010) OB, explicit VR: tag, VR, two reserved bytes, a 32-bit length.
    pixel_header = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, size + size % 2)
    deflate = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(MB)
    with open(path, "wb") as f:
        f.write(b"\0" * 128 + b"DICM")
        meta = DicomBytesIO()
        write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
        f.write(meta.getvalue())
        f.write(deflate.compress(body.getvalue() + pixel_header))
        left = size + size % 2
        while left > 0:
            f.write(deflate.compress(zeros[: min(left, MB)]))
            left -= MB
        f.write(deflate.flush())
    return path


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` grey pixels and holds none of them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    out = BytesIO()
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
    out.write(chunk(b"IDAT", zlib.compress(b"")))
    out.write(chunk(b"IEND", b""))
    return out.getvalue()


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


class PeakRss:
    """How far this process's resident memory rose above where it stood at ``start``."""

    def __init__(self) -> None:
        self.base_kb = 0

    def start(self) -> None:
        """Reset the high-water mark to the current resident size."""
        Path("/proc/self/clear_refs").write_text("5")
        self.base_kb = _status_kb("VmRSS")

    @property
    def growth_mb(self) -> float:
        """The peak since ``start``, above the size then, in MiB."""
        return (_status_kb("VmHWM") - self.base_kb) / 1024
