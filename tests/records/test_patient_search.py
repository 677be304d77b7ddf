"""Patient search through the trigram indexes returns exactly what the plain LIKE scan returned."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import factories
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from records import access
from records.actor import Actor
from records.db import create_engine, session_maker
from records.migrate import alembic_config, upgrade
from records.migrations import UNMODELLED_INDEXES, UNMODELLED_TABLES
from records.models import (
    ConsultationStatus,
    Facility,
    FacilityLevel,
    ParticipantRole,
    Patient,
    PatientUpdate,
    Role,
    Sex,
)
from records.services import clamp_page, patients
from records.text import fold
from tests.conftest import drop_engine, make_engine, schema_url

# The revision before the search indexes.
BEFORE_INDEXES = "39315c95818d"

NAMES = [
    "Nguyễn Văn An",
    "Nguyễn Văn Anh",
    'Lê "Tí" Nguyễn',
    "Trần*Văn Bình",
    "Phạm AND Ngọc",
    "Võ-Ngọc ^Ánh",
    "Đặng Thu Hà",
    "Hồ 100% Lan",
    "Bùi_Văn Tú",
    "An Lý",
    "Ngô NEAR(An) Sơn",
]

QUERIES = [
    "nguyen van an",
    "NGUYỄN VĂN",
    "Ánh",
    "vo ngoc",
    "võ-ngọc",
    "an",
    "a",
    "Đà",
    "ng",
    '"',
    '"ti"',
    'le "ti',
    '""',
    "*",
    "tran*van",
    "van*",
    "and",
    "AND",
    "pham and ngoc",
    "pham AND",
    "-ngoc",
    "vo-ngoc",
    "^anh",
    "^",
    "^a",
    "near(an)",
    "NEAR(an anh)",
    "an:anh",
    "{name_folded}: an",
    "100%",
    "bui_van",
    "_va",
    "CT-00",
    "ct-00",
    "dn4797",
    "DN 4797",
    "  an  ",
    "đặng thu hà",
    "thu  ha",
    "không có ai",
]


async def old_search(
    session: AsyncSession,
    actor: Actor,
    q: str | None,
    *,
    sex: Sex | None = None,
    facility_id: uuid.UUID | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> tuple[list[uuid.UUID], int]:
    """The search as it was before the indexes: every readable patient, LIKE on the name."""
    lim, off = clamp_page(limit, offset)
    conds: list[Any] = [access.patients_filter(actor)]
    if sex is not None:
        conds.append(Patient.sex == sex)
    if facility_id is not None:
        conds.append(Patient.facility_id == facility_id)
    if q and q.strip():
        name = patients.like_escape(fold(q))
        code = patients.like_escape(q.strip())
        conds.append(
            sa.or_(
                col(Patient.name_folded).like(f"%{name}%", escape="\\"),
                col(Patient.mrn).like(f"{code}%", escape="\\"),
                col(Patient.insurance_number).like(
                    f"{code.replace(' ', '').upper()}%", escape="\\"
                ),
            )
        )
    where = sa.and_(*conds)
    total = (
        await session.execute(select(sa.func.count()).select_from(Patient).where(where))
    ).scalar_one()
    ids = (
        await session.execute(
            select(Patient.id)
            .where(where)
            .order_by(col(Patient.name_folded), col(Patient.mrn), col(Patient.id))
            .limit(lim)
            .offset(off)
        )
    ).scalars()
    return list(ids), int(total)


async def new_search(
    session: AsyncSession, actor: Actor, q: str | None, **kw: Any
) -> tuple[list[uuid.UUID], int]:
    page = await patients.list_patients(session=session, actor=actor, q=q, **kw)
    return [p.id for p in page.items], page.total


class World:
    """Three facilities, their people, and patients whose names hold FTS5 syntax."""

    fac: Facility
    other: Facility
    host: Facility
    actors: dict[str, Actor]
    made: dict[str, Patient]


async def build(session: AsyncSession) -> World:
    w = World()
    w.fac = await factories.facility(session)
    w.other = await factories.facility(session)
    w.host = await factories.facility(session, level=FacilityLevel.provincial)
    doc = await factories.user(session, facility=w.fac)
    doc_other = await factories.user(session, facility=w.other)
    coordinator = await factories.user(session, facility=w.host, role=Role.coordinator)
    specialist = await factories.user(session, facility=w.host, role=Role.specialist)
    admin = await factories.user(session, facility=w.fac, role=Role.admin)
    w.actors = {
        "doctor": Actor.of(doc),
        "doctor of the other centre": Actor.of(doc_other),
        "coordinator of the host": Actor.of(coordinator),
        "specialist": Actor.of(specialist),
        "admin": Actor.of(admin),
        "system": Actor.system("test"),
    }
    w.made = {}
    for i, name in enumerate(NAMES):
        w.made[name] = await factories.patient(
            session,
            facility=w.fac,
            full_name=name,
            mrn=f"CT-{i:03d}",
            sex=Sex.male if i % 2 else Sex.female,
            insurance_number="DN4797412345678" if i == 0 else None,
        )
    # The same names at the other centre: found only where one of their cases is readable.
    invited = await factories.patient(
        session, facility=w.other, full_name="Võ Ngọc Ánh", mrn="PL-001"
    )
    cancelled = await factories.patient(
        session, facility=w.other, full_name="Nguyễn Văn An", mrn="PL-002"
    )
    await factories.patient(session, facility=w.other, full_name="Nguyễn Văn Anh", mrn="CT-000")
    invited_case = await factories.case(session, patient=invited, author=doc_other)
    cancelled_case = await factories.case(session, patient=cancelled, author=doc_other)
    await factories.consultation(
        session,
        host=w.host,
        requesting=w.other,
        cases=[invited_case],
        participants={doc.id: ParticipantRole.specialist, specialist.id: ParticipantRole.chair},
    )
    await factories.consultation(
        session,
        host=w.host,
        requesting=w.other,
        cases=[cancelled_case],
        participants={doc.id: ParticipantRole.specialist},
        status=ConsultationStatus.cancelled,
    )
    return w


async def assert_same(session: AsyncSession, w: World, queries: list[str], **kw: Any) -> None:
    for who, actor in w.actors.items():
        for q in queries:
            old = await old_search(session, actor, q, **kw)
            new = await new_search(session, actor, q, **kw)
            assert new == old, (who, q, kw)


async def test_search_matches_the_plain_scan(session: AsyncSession) -> None:
    w = await build(session)
    await assert_same(session, w, QUERIES)
    doctor = w.actors["doctor"]
    # Not vacuous: the invited patient of the other centre is found, the others are not.
    page = await patients.list_patients(session=session, actor=doctor, q="vo ngoc")
    assert [(p.full_name, p.facility_id) for p in page.items] == [("Võ Ngọc Ánh", w.other.id)]
    ids, total = await new_search(session, doctor, "nguyen van an")
    assert total == 2 and w.made["Nguyễn Văn An"].id in ids
    ids, _ = await new_search(session, w.actors["doctor of the other centre"], "nguyen van an")
    assert len(ids) == 2 and w.made["Nguyễn Văn An"].id not in ids
    assert (await new_search(session, doctor, '"ti"'))[1] == 1
    assert (await new_search(session, doctor, "pham and ngoc"))[1] == 1
    assert (await new_search(session, doctor, "^anh"))[1] == 1
    assert (await new_search(session, w.actors["admin"], "nguyen"))[1] == 0


async def test_search_pages_and_filters_match_the_plain_scan(session: AsyncSession) -> None:
    w = await build(session)
    for offset in (0, 1, 2, 3, 50):
        await assert_same(
            session, w, ["nguyen", "an", "van", "ngoc", "CT-0"], limit=2, offset=offset
        )
    await assert_same(session, w, ["nguyen", "an", "ngoc"], sex=Sex.male)
    await assert_same(session, w, ["nguyen", "an", "ngoc"], facility_id=w.other.id)


async def test_renamed_deleted_and_new_patients_are_searched_by_their_current_name(
    session: AsyncSession,
) -> None:
    w = await build(session)
    doctor = w.actors["doctor"]
    ha = w.made["Đặng Thu Hà"]
    await patients.update_patient(
        session=session,
        patient_id=ha.id,
        actor=doctor,
        data=PatientUpdate(full_name="Đặng Thu Hằng"),
    )
    # A change of other fields leaves the name indexed.
    await patients.update_patient(
        session=session,
        patient_id=w.made["Bùi_Văn Tú"].id,
        actor=doctor,
        data=PatientUpdate(phone="0912345678"),
    )
    await session.execute(sa.delete(Patient).where(col(Patient.id) == w.made["Hồ 100% Lan"].id))
    await session.commit()
    await factories.patient(session, facility=w.fac, full_name="Hồ Thị Lan", mrn="CT-900")
    queries = ["thu ha", "thu hang", "dang thu", "100%", "ho thi lan", "lan", "bui_van", "tu"]
    await assert_same(session, w, queries)
    assert (await new_search(session, doctor, "thu hang"))[0] == [ha.id]
    assert (await new_search(session, doctor, "100%"))[1] == 0
    assert (await new_search(session, doctor, "ho thi lan"))[1] == 1
    assert (await new_search(session, doctor, "bui_van"))[1] == 1
    if session.get_bind().dialect.name == "sqlite":
        # The index agrees with the patient rows it was built from.
        await session.execute(
            sa.text("INSERT INTO patient_fts(patient_fts, rank) VALUES ('integrity-check', 1)")
        )


@pytest.mark.parametrize("db_kind", ["sqlite"])  # the FTS5 table is SQLite's
async def test_sqlite_finds_names_of_three_letters_through_the_trigram_table(
    session: AsyncSession, db_kind: str
) -> None:
    w = await build(session)
    doctor = w.actors["doctor"]
    assert (await new_search(session, doctor, "bui"))[1] == 1
    # Empty the index behind the triggers' back: longer name queries now find nothing,
    # shorter ones and the MRN prefix still read the table.
    await session.execute(sa.text("INSERT INTO patient_fts(patient_fts) VALUES ('delete-all')"))
    await session.commit()
    assert (await new_search(session, doctor, "bui"))[1] == 0
    assert (await new_search(session, doctor, "tu"))[1] == 1
    assert (await new_search(session, doctor, "CT-008"))[1] == 1


def test_fts5_string_quotes_everything() -> None:
    assert patients.fts5_string('le "ti" AND *') == '"le ""ti"" AND *"'
    assert patients.fts5_string("") == '""'


# Migrated databases: the revision fills the index from existing rows, the queries use the
# indexes, and the downgrade removes them.


def _downgrade_sync(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


async def _search_objects(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = await conn.execute(sa.text("SELECT name FROM sqlite_master"))
        else:
            rows = await conn.execute(
                sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
            )
        names = {str(r[0]) for r in rows}
    return names & (UNMODELLED_TABLES | UNMODELLED_INDEXES | _TRIGGERS)


_TRIGGERS = frozenset({"patient_fts_ai", "patient_fts_ad", "patient_fts_au"})


async def _plan(session: AsyncSession, actor: Actor, q: str) -> str:
    """The plan of the statements the search issues, with sequential scans discouraged."""
    bind = session.get_bind()
    seen: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(bind, "before_cursor_execute", grab)
    try:
        await patients.list_patients(session=session, actor=actor, q=q)
    finally:
        sa.event.remove(bind, "before_cursor_execute", grab)
    await session.commit()
    lines: list[str] = []
    conn = await session.connection()
    pg = bind.dialect.name == "postgresql"
    if pg:
        # A few rows: without this the planner rightly prefers reading the table.
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    for statement, parameters in seen:
        prefix = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
        rows = await conn.exec_driver_sql(prefix + statement, parameters)
        lines += [str(r[-1]) for r in rows]
    await session.rollback()
    return "\n".join(lines)


async def test_migration_indexes_existing_patients_and_downgrade_removes_it(
    db_kind: str, tmp_path: Path
) -> None:
    engine, schema = await make_engine(db_kind, tmp_path)
    url = schema_url(schema) if schema else engine.url.render_as_string(hide_password=False)
    migrated = create_engine(url)
    try:
        # The rows are written through today's models, then the schema is taken back to the
        # revision before the search indexes (later revisions add columns the models write).
        await upgrade(url)
        async with session_maker(migrated)() as session:
            w = await build(session)
        async with migrated.begin() as conn:
            await conn.run_sync(_downgrade_sync, BEFORE_INDEXES)
        assert await _search_objects(migrated) == set()
        await upgrade(url)
        if db_kind == "sqlite":
            expected = (UNMODELLED_INDEXES - {"ix_patient_name_folded_trgm"}) | (
                UNMODELLED_TABLES | _TRIGGERS
            )
        else:
            expected = set(UNMODELLED_INDEXES)
        assert await _search_objects(migrated) == expected
        async with session_maker(migrated)() as session:
            # Patients written before the revision are found through the index it built.
            await assert_same(session, w, QUERIES)
            await factories.patient(session, facility=w.fac, full_name="Lâm Mới", mrn="CT-777")
            await assert_same(session, w, ["lam moi", "moi", "CT-7"])
            plan = await _plan(session, w.actors["doctor"], "nguyen van an")
        assert "ix_patient_mrn_prefix" in plan
        assert "ix_patient_insurance_number_prefix" in plan
        if db_kind == "sqlite":
            assert "patient_fts VIRTUAL TABLE" in plan
        else:
            assert "ix_patient_name_folded_trgm" in plan and "Seq Scan on patient" not in plan

        async with migrated.begin() as conn:
            await conn.run_sync(_downgrade_sync, BEFORE_INDEXES)
        assert await _search_objects(migrated) == set()
        # No search at that revision: today's models read patient columns (ethnicity, citizen
        # ID) that later revisions add.
        await upgrade(url)
        assert await _search_objects(migrated) == expected
        async with session_maker(migrated)() as session:
            await assert_same(session, w, ["nguyen van an", "lam moi", "ngoc", "an"])
    finally:
        await migrated.dispose()
        await drop_engine(engine, schema)
