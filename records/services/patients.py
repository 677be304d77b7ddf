"""Patients of a facility: create, edit, read (audited) and accent-insensitive search."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid
from ..messages import msg
from ..models import Patient, PatientCreate, PatientUpdate, Sex
from ..models.base import utcnow
from ..text import fold
from . import Page, clamp_page
from .changes import refuse_nulls

# pg_trgm and the FTS5 trigram tokenizer index three-character pieces: a shorter name query
# cannot narrow the patients through them and is matched by reading the readable patients.
TRIGRAM_MIN = 3

# The SQLite FTS5 trigram table over patient.name_folded (see records.models.clinical).
_patient_fts = sa.table("patient_fts", sa.column("rowid"))


def like_escape(s: str) -> str:
    """Escape LIKE wildcards so user input matches literally (escape character: backslash)."""
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fts5_string(s: str) -> str:
    """Quote text as one FTS5 string, so quotes and operators (AND, *, -, ^) in it are literal."""
    return '"' + s.replace('"', '""') + '"'


async def _check_mrn_free(
    session: AsyncSession, facility_id: uuid.UUID, mrn: str, exclude: uuid.UUID | None = None
) -> None:
    stmt = select(Patient.id).where(Patient.facility_id == facility_id, Patient.mrn == mrn)
    if exclude is not None:
        stmt = stmt.where(Patient.id != exclude)
    if (await session.execute(stmt)).first() is not None:
        problem = msg("Mã bệnh nhân đã tồn tại tại cơ sở này")
        raise Conflict(problem, fields={"mrn": problem})


async def create_patient(
    *,
    session: AsyncSession,
    data: PatientCreate,
    actor: Actor,
    facility_id: uuid.UUID | None = None,
) -> Patient:
    """Register a patient at the actor's facility (the system names the facility)."""
    data = PatientCreate.model_validate(data.model_dump())
    target = facility_id or actor.facility_id
    if target is None:
        raise Invalid(msg("Chưa chọn cơ sở y tế"), fields={"facility_id": msg("Bắt buộc")})
    if not access.can_write_clinical(actor, target):
        raise await access.deny(
            session,
            actor=actor,
            object_type="patient",
            object_id=None,
            need="create",
            forbidden=msg("Bạn không có quyền tạo bệnh nhân tại cơ sở này"),
        )
    await _check_mrn_free(session, target, data.mrn)
    patient = Patient.model_validate(
        data,
        update={
            "facility_id": target,
            "name_folded": fold(data.full_name),
            "created_by": actor.user_id,
        },
    )
    session.add(patient)
    await audit.record(
        session,
        actor=actor,
        action="create",
        object_type="patient",
        object_id=patient.id,
        patient_id=patient.id,
    )
    await session.commit()
    return patient


def _check_birth(birth_date: date | None, birth_year: int | None) -> None:
    if birth_date is None and birth_year is None:
        raise Invalid(msg("Cần ngày sinh hoặc năm sinh"), fields={"birth_year": msg("Bắt buộc")})
    if birth_date is not None and birth_date > date.today():
        raise Invalid(
            msg("Ngày sinh ở tương lai"), fields={"birth_date": msg("Ngày sinh không hợp lệ")}
        )


async def update_patient(
    *, session: AsyncSession, patient_id: uuid.UUID, data: PatientUpdate, actor: Actor
) -> Patient:
    """Edit a patient's details (doctors of the patient's facility)."""
    data = PatientUpdate.model_validate(data.model_dump(exclude_unset=True))
    patient = await access.require_patient(
        session=session, actor=actor, patient_id=patient_id, write=True
    )
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(Patient, changes)
    birth_date = changes.get("birth_date", patient.birth_date)
    birth_year = changes.get("birth_year", patient.birth_year)
    if "birth_date" in changes and changes["birth_date"] is not None:
        birth_year = changes["birth_date"].year
        if "birth_year" in changes and changes["birth_year"] not in (None, birth_year):
            raise Invalid(
                msg("Năm sinh không khớp ngày sinh"), fields={"birth_year": msg("Không khớp")}
            )
        changes["birth_year"] = birth_year
    elif "birth_year" in changes and patient.birth_date is not None:
        if changes["birth_year"] != patient.birth_date.year:
            changes["birth_date"] = None
            birth_date = None
    _check_birth(birth_date, birth_year)
    for key, value in changes.items():
        setattr(patient, key, value)
    if "full_name" in changes:
        patient.full_name = " ".join(patient.full_name.split())
        patient.name_folded = fold(patient.full_name)
    patient.updated_at = utcnow()
    session.add(patient)
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="patient",
        object_id=patient.id,
        patient_id=patient.id,
        detail={"fields": sorted(changes)},
    )
    await session.commit()
    return patient


async def get_patient(*, session: AsyncSession, patient_id: uuid.UUID, actor: Actor) -> Patient:
    """One patient; the read is audited."""
    patient = await access.require_patient(session=session, actor=actor, patient_id=patient_id)
    await audit.record_now(
        session,
        actor=actor,
        action="view",
        object_type="patient",
        object_id=patient.id,
        patient_id=patient.id,
    )
    return patient


async def _allow_hashed_subplan(session: AsyncSession) -> None:
    """Let PostgreSQL hash the "patients of readable cases" list of the access rule.

    The planner overestimates that list (half of all cases), and with the default 4 MB of
    work_mem it then rescans it for every candidate patient instead of hashing it once:
    seconds instead of milliseconds at a million cases. Lasts until the transaction ends.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(sa.text("SET LOCAL work_mem = '64MB'"))


def _is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _text_match(q: str, *, sqlite: bool) -> tuple[Any, bool]:
    """The condition for ``q`` (name anywhere, MRN or BHYT prefix), and whether indexes serve it."""
    folded = fold(q)
    name = like_escape(folded)
    code = like_escape(q.strip())
    name_like: Any = col(Patient.name_folded).like(f"%{name}%", escape="\\")
    indexed = len(folded) >= TRIGRAM_MIN
    if indexed and sqlite:
        # The trigram MATCH finds a superset of the LIKE matches (case folded); the LIKE on
        # those few rows keeps the result exactly what it was.
        found = select(_patient_fts.c.rowid).where(
            sa.literal_column("patient_fts").op("MATCH")(fts5_string(folded))
        )
        name_like = sa.and_(sa.literal_column("patient.rowid").in_(found), name_like)
    # PostgreSQL needs no rewrite: the planner ORs the trigram and prefix index scans itself.
    match = sa.or_(
        name_like,
        col(Patient.mrn).like(f"{code}%", escape="\\"),
        col(Patient.insurance_number).like(f"{code.replace(' ', '').upper()}%", escape="\\"),
    )
    return match, indexed


async def list_patients(
    *,
    session: AsyncSession,
    actor: Actor,
    q: str | None = None,
    sex: Sex | None = None,
    facility_id: uuid.UUID | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> Page[Patient]:
    """Patients the actor may see, by name; ``q`` matches name (any accents), MRN or BHYT."""
    lim, off = clamp_page(limit, offset)
    searching = bool(q and q.strip())
    conds: list[Any] = []
    if q and searching:
        sqlite = _is_sqlite(session)
        match, indexed = _text_match(q, sqlite=sqlite)
        # With the indexes the matches are the few rows to check; without them, listing the
        # readable patients once (hashed) beats probing the cases for every name match.
        conds.append(
            access.patients_filter(actor, among=None if sqlite else match, per_row=sqlite)
            if indexed
            else access.patients_filter(actor)
        )
        conds.append(match)
    else:
        conds.append(access.patients_filter(actor))
    if sex is not None:
        conds.append(Patient.sex == sex)
    if facility_id is not None:
        conds.append(Patient.facility_id == facility_id)
    where = sa.and_(*conds)
    await _allow_hashed_subplan(session)
    if searching:
        # Matches are few next to the patients of a facility: read them once, counting them
        # as they go, then sort. The OFFSET 0 fence keeps the planner from walking the name
        # index in order hoping to meet a page of matches early (the whole table when the
        # matches sort last, "vo ngoc").
        matches = select(Patient).where(where).offset(0).subquery()
        found = aliased(Patient, matches)
        rows = (
            await session.execute(
                select(found, sa.func.count().over())
                .order_by(matches.c.name_folded, matches.c.mrn, matches.c.id)
                .limit(lim)
                .offset(off)
            )
        ).all()
        if rows or off == 0:
            total = int(rows[0][1]) if rows else 0
            return await _audited(
                session, actor, Page(items=[r[0] for r in rows], total=total, limit=lim, offset=off)
            )
    total = (
        await session.execute(select(sa.func.count()).select_from(Patient).where(where))
    ).scalar_one()
    items = (
        (
            await session.execute(
                select(Patient)
                .where(where)
                .order_by(col(Patient.name_folded), col(Patient.mrn), col(Patient.id))
                .limit(lim)
                .offset(off)
            )
        )
        .scalars()
        .all()
    )
    return await _audited(
        session, actor, Page(items=list(items), total=int(total), limit=lim, offset=off)
    )


async def _audited(session: AsyncSession, actor: Actor, page: Page[Patient]) -> Page[Patient]:
    """A page of patients, each of them audited as read in a list (one batch)."""
    await audit.record_reads(
        session,
        actor=actor,
        reads=[audit.Read("patient", p.id, p.id) for p in page.items],
        detail={"list": "patients"},
    )
    return page
