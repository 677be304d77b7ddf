"""A ZIP of a DICOM study (a PACS export, a CD copy): each file inside becomes an attachment.

An archive is untrusted: a few kilobytes can declare gigabytes. Before anything is unpacked,
its directory is checked against limits: how many entries, how large each one and all of them
together claim to be, and how far each claims to expand (``ZipLimits``). While an entry is
read, ``zipfile`` stops at the size it declared and checks its CRC, and the store refuses more
than the per-file limit, so a lying header cannot get past them. Each file then goes through
the ordinary upload (``attachments.upload``): sniffed, facts read, identity checked, placed and
committed on its own. Entries that are not DICOM, or are refused, are listed with the reason.
A difference of patient on the first DICOM file stops the whole archive before anything is
stored, so the uploader can confirm and send it again.
"""

from __future__ import annotations

import asyncio
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession

from .. import access
from ..actor import Actor
from ..blobs import CHUNK, BlobStore
from ..errors import Invalid
from ..messages import Message, msg
from ..models import Attachment, AttachmentKind
from ..render import DEFAULT_MAX_PIXELS
from ..sniff import sniff
from .attachments import IdentityMismatch, _check_open, upload

NOT_A_ZIP = msg("Tệp không phải là tệp nén ZIP hợp lệ")
NOT_DICOM = msg("Không phải tệp DICOM, đã bỏ qua")
# Directory files of a DICOM CD and the resource forks macOS adds to archives.
_SKIPPED_NAMES = frozenset({"DICOMDIR", ".DS_Store", "Thumbs.db"})


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """How much an archive may hold and claim to expand to."""

    max_entries: int = 5000
    max_total_bytes: int = 4 * 1024 * 1024 * 1024
    max_ratio: int = 200
    # Below this an entry may expand as far as it likes (a blank slice compresses very well).
    ratio_floor_bytes: int = 1024 * 1024


@dataclass
class ZipResult:
    """What became of an archive: the attachments made, and the entries skipped with why."""

    created: list[Attachment] = field(default_factory=list)
    skipped: list[tuple[str, Message]] = field(default_factory=list)


def _entries(path: str, *, max_entry_bytes: int, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """The files of the archive worth reading, once its directory passes the limits."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise Invalid(NOT_A_ZIP, fields={"file": NOT_A_ZIP}) from None
    files = [i for i in infos if not i.is_dir()]
    if len(files) > limits.max_entries:
        raise Invalid(msg("Tệp nén có quá nhiều tệp (tối đa %(limit)s)", limit=limits.max_entries))
    if sum(i.file_size for i in files) > limits.max_total_bytes:
        raise Invalid(msg("Tệp nén khi giải nén vượt quá dung lượng cho phép"))
    for info in files:
        if info.flag_bits & 0x1:
            raise Invalid(msg("Tệp nén có mật khẩu, không mở được"))
        expands = info.file_size > limits.ratio_floor_bytes and (
            info.file_size > max(info.compress_size, 1) * limits.max_ratio
        )
        if info.file_size > max_entry_bytes or expands:
            raise Invalid(msg("Tệp «%(name)s» trong tệp nén quá lớn", name=info.filename[-200:]))
    return files


def _skipped(info: zipfile.ZipInfo) -> bool:
    parts = PurePosixPath(info.filename).parts
    return (
        not parts
        or parts[-1] in _SKIPPED_NAMES
        or parts[0] == "__MACOSX"
        or parts[-1].startswith("._")
    )


async def _chunks(stream: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(stream.read, CHUNK):
        yield chunk


async def upload_zip(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    actor: Actor,
    case_id: uuid.UUID,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    description: str = "",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    confirm_identity: bool = False,
    limits: ZipLimits = ZipLimits(),
) -> ZipResult:
    """Unpack a ZIP of DICOM files into attachments of a case the actor may edit."""
    case = await access.require_case(session=session, actor=actor, case_id=case_id, write=True)
    _check_open(case)
    await session.commit()

    def check_head(head: bytes) -> None:
        if not head.startswith(b"PK\x03\x04"):
            raise Invalid(NOT_A_ZIP, fields={"file": NOT_A_ZIP})

    pending = await blobs.receive(
        chunks, max_bytes=limits.max_total_bytes, check_head=check_head, head_size=4
    )
    result = ZipResult()
    try:
        files = await asyncio.to_thread(
            _entries, str(pending.path), max_entry_bytes=max_bytes, limits=limits
        )
        with zipfile.ZipFile(pending.path) as z:
            for info in files:
                name = PurePosixPath(info.filename).name
                if _skipped(info):
                    continue
                with z.open(info) as stream:
                    head = await asyncio.to_thread(stream.read, 4096)
                if not sniff(head).is_dicom:
                    result.skipped.append((info.filename, NOT_DICOM))
                    continue
                try:
                    with z.open(info) as stream:
                        attachment = await upload(
                            session=session,
                            blobs=blobs,
                            actor=actor,
                            case_id=case_id,
                            kind=AttachmentKind.dicom,
                            filename=name,
                            chunks=_chunks(stream),
                            max_bytes=max_bytes,
                            description=description,
                            max_pixels=max_pixels,
                            confirm_identity=confirm_identity,
                        )
                except IdentityMismatch as exc:
                    if not result.created:
                        raise
                    result.skipped.append((info.filename, exc.text))
                    continue
                except (Invalid, zipfile.BadZipFile) as exc:
                    reason = exc.text if isinstance(exc, Invalid) else NOT_A_ZIP
                    result.skipped.append((info.filename, reason))
                    continue
                result.created.append(attachment)
    finally:
        blobs.discard(pending)
    if not result.created and not result.skipped:
        raise Invalid(msg("Tệp nén không có tệp DICOM nào"), fields={"file": NOT_DICOM})
    return result
