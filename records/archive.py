"""Self-contained archives of a consultation's record, and their check.

An archive is a ZIP file: the FHIR document of each case's minutes, every attachment of the
cases (recordings and the minutes' PDF among them), the chat log, the attendance, the audit
entries about the consultation and its cases, and ``manifest.json`` listing every other file
with its size and SHA-256. ``verify_archive`` reports any file modified, missing or extra.
The manifest's own hash is written to the audit trail at export, so a tampered manifest is
found by comparing the two.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from . import audit
from .actor import Actor
from .blobs import BlobStore
from .errors import NotFound
from .fhir.bundle import document
from .messages import msg
from .models import (
    Attachment,
    AuditEvent,
    Case,
    CaseOutcome,
    ChatMessage,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    Minutes,
    Role,
    User,
)
from .models.base import utcnow
from .refusals import deny
from .services import attendance as attendance_svc

FORMAT = "telemed-archive/1"
MANIFEST = "manifest.json"
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def may_archive(actor: Actor, consultation: Consultation) -> bool:
    """Who keeps the record: the host's coordinators, and the admins of either facility."""
    if actor.is_system:
        return True
    if actor.role == Role.coordinator:
        return actor.facility_id == consultation.host_facility_id
    if actor.role == Role.admin:
        return actor.facility_id in (
            consultation.host_facility_id,
            consultation.requesting_facility_id,
        )
    return False


async def archivable(
    *, session: AsyncSession, actor: Actor, limit: int = 200
) -> list[Consultation]:
    """The ended consultations the actor may archive, most recent first."""
    if actor.facility_id is None or actor.role not in (Role.admin, Role.coordinator):
        return []
    facility = actor.facility_id
    where: Any = Consultation.host_facility_id == facility
    if actor.role == Role.admin:
        where = where | (Consultation.requesting_facility_id == facility)
    rows = await session.execute(
        select(Consultation)
        .where(where, Consultation.status == ConsultationStatus.ended)
        .order_by(col(Consultation.ended_at).desc(), col(Consultation.id))
        .limit(limit)
    )
    return list(rows.scalars().all())


async def require_archivist(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Consultation:
    """The consultation if the actor may archive it; NotFound (audited) otherwise."""
    consultation = await session.get(Consultation, consultation_id)
    if consultation is None or not may_archive(actor, consultation):
        raise await deny(
            session,
            actor=actor,
            object_type="consultation",
            object_id=consultation_id,
            need="archive",
        )
    return consultation


def _json(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._")[:120] or "file"


@dataclass
class _Plan:
    """What goes into the archive: in-memory files and files copied from the store."""

    data: dict[str, bytes] = field(default_factory=dict)
    blobs: dict[str, Path] = field(default_factory=dict)


async def _plan(
    session: AsyncSession,
    blobs: BlobStore,
    consultation: Consultation,
    attachment_url: Callable[[Attachment], str],
) -> _Plan:
    plan = _Plan()
    cases = list(
        (
            await session.execute(
                select(Case)
                .join(ConsultationCase, col(ConsultationCase.case_id) == Case.id)
                .where(ConsultationCase.consultation_id == consultation.id)
                .order_by(col(Case.created_at))
            )
        )
        .scalars()
        .all()
    )
    case_ids = [c.id for c in cases]
    minutes = list(
        (await session.execute(select(Minutes).where(Minutes.consultation_id == consultation.id)))
        .scalars()
        .all()
    )
    for m in minutes:
        case = next((c for c in cases if c.id == m.case_id), None)
        if case is not None:
            bundle = await document(session, consultation, case, m, attachment_url)
            plan.data[f"fhir/{case.id}.json"] = bundle.model_dump_json(indent=2).encode()
    attachments = list(
        (
            await session.execute(
                select(Attachment)
                .where(col(Attachment.case_id).in_(case_ids))
                .order_by(col(Attachment.uploaded_at))
            )
        )
        .scalars()
        .all()
    )
    for a in attachments:
        path = blobs.path_for(a.sha256)
        if not path.is_file():
            raise NotFound(msg("Tệp không còn trong kho lưu trữ"))
        plan.blobs[f"attachments/{a.case_id}/{a.id}_{_safe(a.filename)}"] = path
    chat = (
        await session.execute(
            select(ChatMessage, User)
            .join(User, col(User.id) == ChatMessage.user_id)
            .where(ChatMessage.consultation_id == consultation.id)
            .order_by(col(ChatMessage.at))
        )
    ).all()
    plan.data["chat.json"] = _json(
        [
            {"at": m.at.isoformat(), "user_id": str(u.id), "name": u.display_name, "text": m.text}
            for m, u in chat
        ]
    )
    present = await attendance_svc.attendance(session, consultation)
    plan.data["attendance.json"] = _json(
        [
            {
                "user_id": str(a.user_id),
                "name": a.name,
                "facility": a.facility,
                "role": str(a.role),
                "intervals": [
                    [i.joined_at.isoformat(), i.left_at.isoformat() if i.left_at else None]
                    for i in a.intervals
                ],
            }
            for a in present
        ]
    )
    outcome_ids = (
        (
            await session.execute(
                select(CaseOutcome.id).where(col(CaseOutcome.case_id).in_(case_ids))
            )
        )
        .scalars()
        .all()
    )
    about = {
        str(x)
        for x in [
            consultation.id,
            *case_ids,
            *(m.id for m in minutes),
            *(a.id for a in attachments),
            *outcome_ids,
        ]
    }
    events = (
        (
            await session.execute(
                select(AuditEvent)
                .where(col(AuditEvent.object_id).in_(about))
                .order_by(col(AuditEvent.seq))
            )
        )
        .scalars()
        .all()
    )
    plan.data["audit.json"] = _json([e.model_dump(mode="json") for e in events])
    plan.data["consultation.json"] = _json(
        {
            "id": str(consultation.id),
            "title": consultation.title,
            "status": str(consultation.status),
            "host_facility_id": str(consultation.host_facility_id),
            "requesting_facility_id": str(consultation.requesting_facility_id),
            "scheduled_start": consultation.scheduled_start.isoformat()
            if consultation.scheduled_start
            else None,
            "started_at": consultation.started_at.isoformat() if consultation.started_at else None,
            "ended_at": consultation.ended_at.isoformat() if consultation.ended_at else None,
            "cases": [{"id": str(c.id), "title": c.title} for c in cases],
            "minutes": [
                {"id": str(m.id), "case_id": str(m.case_id), "status": str(m.status)}
                for m in minutes
            ],
        }
    )
    return plan


def _write(plan: _Plan, out: Path, header: dict[str, Any]) -> bytes:
    """Write the ZIP (to a temporary name, renamed when complete); returns the manifest."""
    files: list[dict[str, Any]] = []
    part = out.with_name(out.name + ".part")
    with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(plan.data.items()):
            z.writestr(name, data)
            files.append(
                {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            )
        for name, source in sorted(plan.blobs.items()):
            digest = hashlib.sha256()
            size = 0
            # Media is already compressed: stored, not deflated again.
            with (
                open(source, "rb") as src,
                z.open(
                    zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), "w", force_zip64=True
                ) as dst,
            ):
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    dst.write(chunk)
            files.append({"path": name, "size": size, "sha256": digest.hexdigest()})
        manifest = _json({**header, "files": files})
        z.writestr(MANIFEST, manifest)
    part.replace(out)
    return manifest


async def export_archive(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    consultation_id: uuid.UUID,
    actor: Actor,
    out: Path,
    attachment_url: Callable[[Attachment], str],
) -> dict[str, Any]:
    """Write the archive of a consultation to ``out`` (archivists only; audited as an export,
    with the manifest's SHA-256); returns the manifest."""
    consultation = await require_archivist(session, actor, consultation_id)
    plan = await _plan(session, blobs, consultation, attachment_url)
    header = {
        "format": FORMAT,
        "consultation_id": str(consultation.id),
        "exported_at": utcnow().isoformat(),
        "exported_by": str(actor.user_id) if actor.user_id else "system",
    }
    await session.commit()
    manifest = await asyncio.to_thread(_write, plan, out, header)
    await audit.record_now(
        session,
        actor=actor,
        action="export",
        object_type="consultation",
        object_id=consultation.id,
        detail={"format": "archive", "manifest_sha256": hashlib.sha256(manifest).hexdigest()},
    )
    parsed: dict[str, Any] = orjson.loads(manifest)
    return parsed


@dataclass(frozen=True, slots=True)
class ArchiveCheck:
    """What ``verify_archive`` found: no problem means the archive is intact."""

    files: int
    problems: tuple[str, ...]
    manifest_sha256: str = ""

    @property
    def ok(self) -> bool:
        """Whether every listed file is there, unmodified, and nothing else is."""
        return not self.problems


def verify_archive(path: Path) -> ArchiveCheck:
    """Check an archive against its manifest: modified, missing and extra files."""
    problems: list[str] = []
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return ArchiveCheck(0, (f"not a readable ZIP file: {exc}",))
    with z:
        names = [i.filename for i in z.infolist() if not i.is_dir()]
        if MANIFEST not in names:
            return ArchiveCheck(0, ("manifest.json is missing",))
        raw = z.read(MANIFEST)
        try:
            manifest = orjson.loads(raw)
            listed = {f["path"]: f for f in manifest["files"]}
            if manifest.get("format") != FORMAT:
                problems.append(f"unknown format {manifest.get('format')!r}")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return ArchiveCheck(0, ("manifest.json is not a valid manifest",))
        if len(names) != len(set(names)):
            problems.append("the same name appears twice")
        for name in sorted(set(names) - set(listed) - {MANIFEST}):
            problems.append(f"extra: {name}")
        for name, entry in sorted(listed.items()):
            if name not in names:
                problems.append(f"missing: {name}")
                continue
            digest = hashlib.sha256()
            size = 0
            try:
                with z.open(name) as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, OSError) as exc:
                problems.append(f"unreadable: {name} ({exc})")
                continue
            if digest.hexdigest() != entry.get("sha256") or size != entry.get("size"):
                problems.append(f"modified: {name}")
    return ArchiveCheck(len(listed), tuple(problems), hashlib.sha256(raw).hexdigest())
