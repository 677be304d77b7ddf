"""Imaging studies: DICOM attachments grouped into studies and series, slices in order.

A study is not stored twice: each DICOM file is an attachment whose facts (read from its header
at upload, ``dicom.geometry``) say where it belongs. ``group`` turns a case's DICOM attachments
into ``Study`` → ``Series`` → ``Slice``: files grouped by StudyInstanceUID and
SeriesInstanceUID, slices ordered by their position along the slice normal (the cross product
of ImageOrientationPatient's row and column directions), then by InstanceNumber, then by name.
A multi-frame file is a series of frames. A study's id is derived from its case and UID, so
URLs and audit entries name it without a table of its own.

``differences`` compares the patient a file names with the case's patient.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .messages import N_
from .models import Attachment, Patient
from .text import fold

# Files without the UIDs (secondary captures, broken exports) still form one study.
UNKNOWN_UID = "unknown"
_NAMESPACE = uuid.UUID("5d0f4c3e-7f57-4c55-9b0e-2f1c0f7a1b12")

IDENTITY_LABELS = {
    "patient_id": N_("Mã bệnh nhân"),
    "patient_name": N_("Họ tên"),
    "birth_date": N_("Ngày sinh"),
}


@dataclass(frozen=True, slots=True)
class Slice:
    """One image of a series: a frame of an attachment, and where it lies."""

    attachment_id: uuid.UUID
    frame: int
    instance_number: int | None
    position: tuple[float, float, float] | None
    location: float | None


@dataclass(slots=True)
class Series:
    """The images of one acquisition, in order."""

    uid: str
    number: int | None
    modality: str
    description: str
    rows: int | None
    columns: int | None
    pixel_spacing: tuple[float, float] | None
    orientation: tuple[float, ...] | None
    attachments: list[Attachment] = field(default_factory=list)
    slices: list[Slice] = field(default_factory=list)

    @property
    def thumbnail(self) -> Slice | None:
        """The slice in the middle of the stack, the one most telling of the series."""
        return self.slices[len(self.slices) // 2] if self.slices else None


@dataclass(slots=True)
class Study:
    """One imaging study of a case: its series in order and what it is."""

    id: uuid.UUID
    uid: str
    modality: str
    body_part: str
    study_date: str
    description: str
    series: list[Series] = field(default_factory=list)

    @property
    def slice_count(self) -> int:
        """How many images the study holds."""
        return sum(len(s.slices) for s in self.series)

    @property
    def attachment_ids(self) -> set[uuid.UUID]:
        """The attachments the study is made of."""
        return {a.id for s in self.series for a in s.attachments}


def study_id(case_id: uuid.UUID, uid: str) -> uuid.UUID:
    """The stable id of a case's study."""
    return uuid.uuid5(_NAMESPACE, f"{case_id}/{uid}")


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    if isinstance(value, list) and len(value) == count:
        try:
            return tuple(float(v) for v in value)
        except (TypeError, ValueError):
            return None
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def normal(orientation: tuple[float, ...] | None) -> tuple[float, float, float]:
    """The slice normal: row direction × column direction (axial when unknown)."""
    if orientation is None:
        return (0.0, 0.0, 1.0)
    r, c = orientation[:3], orientation[3:]
    return (
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    )


def _slices(attachment: Attachment, n: tuple[float, float, float]) -> list[Slice]:
    meta = attachment.meta or {}
    position = _floats(meta.get("position"), 3)
    location = sum(p * q for p, q in zip(position, n, strict=True)) if position else None
    frames = _int(meta.get("frames")) or 1
    return [
        Slice(
            attachment_id=attachment.id,
            frame=f,
            instance_number=_int(meta.get("instance_number")),
            position=(position[0], position[1], position[2]) if position else None,
            location=location,
        )
        for f in range(frames)
    ]


def _order(item: tuple[Slice, str]) -> tuple[int, float, int, str, int]:
    s, name = item
    return (
        0 if s.location is not None else 1,
        s.location if s.location is not None else 0.0,
        s.instance_number if s.instance_number is not None else 0,
        name,
        s.frame,
    )


def _text(meta: Mapping[str, Any], key: str) -> str:
    value = meta.get(key)
    return value if isinstance(value, str) else ""


def group(case_id: uuid.UUID, attachments: Iterable[Attachment]) -> list[Study]:
    """A case's DICOM attachments as studies, each with its series and slices in order."""
    studies: dict[str, Study] = {}
    series: dict[tuple[str, str], Series] = {}
    for a in attachments:
        if a.content_type != "application/dicom":
            continue
        meta = a.meta or {}
        study_uid = _text(meta, "study_uid") or UNKNOWN_UID
        study = studies.get(study_uid)
        if study is None:
            study = studies[study_uid] = Study(
                id=study_id(case_id, study_uid),
                uid=study_uid,
                modality=_text(meta, "modality"),
                body_part=_text(meta, "body_part"),
                study_date=_text(meta, "study_date"),
                description=_text(meta, "study_description"),
            )
        series_uid = _text(meta, "series_uid") or f"{UNKNOWN_UID}-{a.id}"
        key = (study_uid, series_uid)
        one = series.get(key)
        if one is None:
            spacing = _floats(meta.get("pixel_spacing"), 2)
            one = series[key] = Series(
                uid=series_uid,
                number=_int(meta.get("series_number")),
                modality=_text(meta, "modality"),
                description=_text(meta, "series_description"),
                rows=_int(meta.get("rows")),
                columns=_int(meta.get("columns")),
                pixel_spacing=(spacing[0], spacing[1]) if spacing else None,
                orientation=_floats(meta.get("orientation"), 6),
            )
            study.series.append(one)
        one.attachments.append(a)
    names = {a.id: a.filename for one in series.values() for a in one.attachments}
    for one in series.values():
        n = normal(one.orientation)
        items = [(s, names[a.id]) for a in one.attachments for s in _slices(a, n)]
        one.slices = [s for s, _ in sorted(items, key=_order)]
    for study in studies.values():
        study.series.sort(key=lambda s: (s.number is None, s.number or 0, s.description, s.uid))
    return sorted(studies.values(), key=lambda s: (s.study_date, s.uid), reverse=True)


def _name_tokens(text: str) -> list[str]:
    return sorted(fold(re.sub(r"[\^=,]", " ", text)).split())


def _dicom_date(text: str) -> date | None:
    digits = text.replace("-", "").strip()
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def differences(identity: Mapping[str, str], patient: Patient) -> dict[str, tuple[str, str]]:
    """Where the file's patient differs from the case's: field → (in the file, in the case).

    A field the file leaves empty (an anonymised export) is no difference. Names are compared
    without diacritics, case and order (DICOM writes ``NGUYEN^VAN^A``); a birth date against the
    patient's date, or only its year when the record has just the year.
    """
    found: dict[str, tuple[str, str]] = {}
    pid = identity.get("patient_id", "").strip()
    if pid and pid.upper() != patient.mrn.strip().upper():
        found["patient_id"] = (pid, patient.mrn)
    name = identity.get("patient_name", "")
    if _name_tokens(name) and _name_tokens(name) != _name_tokens(patient.full_name):
        found["patient_name"] = (name.replace("^", " ").strip(), patient.full_name)
    born = _dicom_date(identity.get("birth_date", ""))
    if born is not None:
        if patient.birth_date is not None and born != patient.birth_date:
            found["birth_date"] = (born.isoformat(), patient.birth_date.isoformat())
        elif patient.birth_date is None and patient.birth_year not in (None, born.year):
            found["birth_date"] = (born.isoformat(), str(patient.birth_year))
    return found
