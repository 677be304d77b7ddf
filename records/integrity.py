"""Whether the database, the file store and the audit chain agree with each other.

``check`` walks every invariant a crash, a bad restore or a hand edit could break:

- every attachment row has its file, with the recorded size and SHA-256;
- no file in the store is referenced by no row (after a grace period, so an upload that has
  placed its file but not yet committed its row is not taken for one), and no temp file of a
  finished or dead upload is left behind;
- no half-finished record: every attachment has the audit event it was committed with, final
  minutes carry who made them final and when, no one is still "in the room" of a consultation
  that has ended;
- the audit chain verifies.

It only reads; each problem found is reported with what it concerns.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from . import audit
from .blobs import CHUNK, BlobStore
from .messages import Message, msg
from .models import Attachment, Attendance, AuditEvent, Consultation, Minutes
from .models.enums import ConsultationStatus, MinutesStatus

# An upload places its file a moment before its row commits; a file younger than this is not
# yet an orphan.
UPLOAD_GRACE_SECONDS = 3600.0
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken invariant: a stable kind, what it concerns, and a message for people."""

    kind: str
    subject: str
    text: Message


@dataclass(slots=True)
class CheckReport:
    """What ``check`` looked at and what it found."""

    attachments: int = 0
    files: int = 0
    audit_events: int = 0
    audit_head: str = audit.GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no invariant is broken."""
        return not self.problems

    def kinds(self) -> set[str]:
        """The kinds of problem found (for tests and scripts)."""
        return {p.kind for p in self.problems}


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _is_sha(name: str) -> bool:
    return len(name) == 64 and set(name) <= _HEX


def _stored_files(blobs: BlobStore) -> Iterator[tuple[str, Path]]:
    """Every blob in the store as (sha256, path), whatever rows say."""
    if not blobs.root.is_dir():
        return
    for sub in blobs.root.iterdir():
        if not (sub.is_dir() and len(sub.name) == 2 and set(sub.name) <= _HEX):
            continue
        for entry in sub.iterdir():
            yield entry.name, entry


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False


def _tmp_pid_gone(name: str) -> bool:
    try:
        pid = int(name.split("-", 1)[0])
    except ValueError:
        return True
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def _check_attachments(
    session: AsyncSession, blobs: BlobStore, report: CheckReport
) -> set[str]:
    rows = (await session.execute(select(Attachment.id, Attachment.sha256, Attachment.size))).all()
    report.attachments = len(rows)
    audited = {
        str(object_id)
        for (object_id,) in (
            await session.execute(
                select(AuditEvent.object_id).where(
                    AuditEvent.object_type == "attachment", AuditEvent.action == "create"
                )
            )
        ).all()
    }
    verified: dict[str, tuple[str, int] | None] = {}
    for attachment_id, sha, size in rows:
        subject = f"attachment {attachment_id}"
        if str(attachment_id) not in audited:
            report.problems.append(
                Problem(
                    "unaudited-record",
                    subject,
                    msg("Tệp đính kèm %(id)s không có sự kiện nhật ký tạo ra nó", id=attachment_id),
                )
            )
        if not _is_sha(sha):
            report.problems.append(
                Problem("bad-hash", subject, msg("Mã băm không hợp lệ: %(sha)s", sha=sha))
            )
            continue
        path = blobs.path_for(sha)
        if sha not in verified:
            verified[sha] = await asyncio.to_thread(_hash_file, path) if path.is_file() else None
        found = verified[sha]
        if found is None:
            report.problems.append(
                Problem(
                    "missing-file",
                    subject,
                    msg("Thiếu tệp của tệp đính kèm %(id)s (%(sha)s)", id=attachment_id, sha=sha),
                )
            )
        elif found[0] != sha or found[1] != size:
            report.problems.append(
                Problem(
                    "corrupt-file",
                    subject,
                    msg(
                        "Tệp của tệp đính kèm %(id)s bị hỏng: mã băm hoặc dung lượng không khớp",
                        id=attachment_id,
                    ),
                )
            )
    return {sha for _, sha, _ in rows}


def _check_store(
    blobs: BlobStore, referenced: set[str], cutoff: float, report: CheckReport
) -> None:
    for name, path in _stored_files(blobs):
        report.files += 1
        if name in referenced:
            continue
        if _is_sha(name) and not _older_than(path, cutoff):
            continue
        report.problems.append(
            Problem(
                "orphan-file",
                str(path),
                msg("Tệp không thuộc tệp đính kèm nào: %(path)s", path=str(path)),
            )
        )
    if blobs.preview_dir.is_dir():
        for path in blobs.preview_dir.iterdir():
            sha = path.name.split(".", 1)[0]
            if sha not in referenced and _older_than(path, cutoff):
                report.problems.append(
                    Problem(
                        "orphan-file",
                        str(path),
                        msg("Tệp không thuộc tệp đính kèm nào: %(path)s", path=str(path)),
                    )
                )
    if blobs.tmp_dir.is_dir():
        for path in blobs.tmp_dir.iterdir():
            if _older_than(path, cutoff) or _tmp_pid_gone(path.name):
                report.problems.append(
                    Problem(
                        "leftover-temp",
                        str(path),
                        msg("Tệp tạm của một lần tải lên đã dừng: %(path)s", path=str(path)),
                    )
                )


async def _check_half_finished(session: AsyncSession, report: CheckReport) -> None:
    unsigned = (
        await session.execute(
            select(Minutes.id).where(
                Minutes.status == MinutesStatus.final,
                sa.or_(col(Minutes.finalized_at).is_(None), col(Minutes.finalized_by).is_(None)),
            )
        )
    ).all()
    for (minutes_id,) in unsigned:
        report.problems.append(
            Problem(
                "half-finished",
                f"minutes {minutes_id}",
                msg(
                    "Biên bản %(id)s đã hoàn tất nhưng thiếu người hoặc thời điểm hoàn tất",
                    id=minutes_id,
                ),
            )
        )
    open_stays = (
        await session.execute(
            select(Attendance.id, Attendance.consultation_id)
            .join(Consultation, col(Consultation.id) == Attendance.consultation_id)
            .where(
                col(Attendance.left_at).is_(None),
                col(Consultation.status).in_(
                    [ConsultationStatus.ended, ConsultationStatus.cancelled]
                ),
            )
        )
    ).all()
    for attendance_id, consultation_id in open_stays:
        report.problems.append(
            Problem(
                "half-finished",
                f"attendance {attendance_id}",
                msg(
                    "Phiên hội chẩn %(id)s đã kết thúc nhưng còn người chưa được ghi rời phòng",
                    id=consultation_id,
                ),
            )
        )


async def check(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    grace_seconds: float = UPLOAD_GRACE_SECONDS,
    now: float | None = None,
) -> CheckReport:
    """Check every invariant between the database, the file store and the audit chain."""
    report = CheckReport()
    cutoff = (time.time() if now is None else now) - grace_seconds
    referenced = await _check_attachments(session, blobs, report)
    await asyncio.to_thread(_check_store, blobs, referenced, cutoff, report)
    await _check_half_finished(session, report)
    chain = await audit.verify(session)
    report.audit_events = chain.count
    report.audit_head = chain.head_hash
    if not chain.ok:
        report.problems.append(Problem("audit-chain", "audit", chain.describe()))
    await session.commit()
    return report


# What `remove_leftovers` may delete: files no record needs.
LEFTOVERS = frozenset({"orphan-file", "leftover-temp"})


async def _referenced(session: AsyncSession, sha256: str) -> bool:
    found = await session.execute(
        select(Attachment.id).where(col(Attachment.sha256) == sha256).limit(1)
    )
    await session.commit()
    return found.first() is not None


async def remove_leftovers(
    *, session: AsyncSession, blobs: BlobStore, report: CheckReport
) -> list[Problem]:
    """Delete the files behind a report's orphan and leftover problems; what was removed.

    A stored file goes through the store's own removal, which gives way to a row that commits
    meanwhile (an upload of the same bytes reuses the file); a cached preview or a dead
    upload's temporary file is simply deleted. The problems removed leave the report.
    """
    removed: list[Problem] = []
    for problem in [p for p in report.problems if p.kind in LEFTOVERS]:
        path = Path(problem.subject)
        stored = _is_sha(path.name) and path == blobs.path_for(path.name)
        if problem.kind == "orphan-file" and stored:

            async def referenced(sha: str = path.name) -> bool:
                return await _referenced(session, sha)

            gone = await blobs.remove_unreferenced(path.name, is_referenced=referenced)
            if not gone and path.exists():
                continue
        else:
            path.unlink(missing_ok=True)
        removed.append(problem)
        report.problems.remove(problem)
    return removed


def summary(report: CheckReport) -> Message:
    """One line saying what was checked."""
    return msg(
        "Đã kiểm tra %(attachments)s tệp đính kèm, %(files)s tệp trong kho, "
        "%(events)s sự kiện nhật ký (mã băm cuối %(head)s)",
        attachments=report.attachments,
        files=report.files,
        events=report.audit_events,
        head=report.audit_head,
    )
