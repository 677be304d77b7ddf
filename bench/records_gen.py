"""Generate N patients and N case files with Vietnamese names, on SQLite or PostgreSQL.

Facilities (the district centres of Bình Phước, the provincial hospital) and one doctor per
facility go through the records services; patients and cases, being millions, are inserted in
batches of rows built from the models (the same defaults and folded names the services write).

``python -m bench.records_gen --patients 1000000 --database-url sqlite+aiosqlite:///var/big.db``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from records.actor import Actor
from records.db import create_engine, session_maker
from records.migrate import upgrade
from records.models import (
    Case,
    CaseStatus,
    FacilityCreate,
    FacilityLevel,
    Patient,
    Role,
    Urgency,
    UserCreate,
    utcnow,
)
from records.services import facilities, users
from records.text import fold

from .common import say
from .names import PLACES, person

BATCH = 5000
URGENCY = (Urgency.routine.value, Urgency.routine.value, Urgency.urgent.value)
STATUSES = tuple(s.value for s in CaseStatus)
TITLES = (
    "Đau ngực kéo dài, nghi hội chứng vành cấp",
    "Yếu nửa người trái, nghi nhồi máu não",
    "Khó thở tăng dần, phù hai chi dưới",
    "Sốt kéo dài chưa rõ nguyên nhân",
    "Đau bụng hạ sườn phải, vàng da",
    "Nốt mờ phổi phải trên phim X quang",
    "Tăng huyết áp kháng trị",
    "Chấn thương sọ não kín, theo dõi máu tụ",
)
SPECIALTIES = ("Tim mạch", "Thần kinh", "Hô hấp", "Tiêu hóa", "Chẩn đoán hình ảnh", "Nội tiết")
HISTORY = (
    "Bệnh nhân có tiền sử tăng huyết áp 5 năm, điều trị không đều. Vào viện vì đau ngực trái "
    "sau gắng sức, kéo dài khoảng 30 phút, không đỡ khi nghỉ."
)


@dataclass
class Generated:
    """Handles the benchmark needs into the generated data."""

    url: str
    facility_ids: list[uuid.UUID]
    doctor_ids: list[uuid.UUID]


async def generate(url: str, patients: int, *, seed: int = 11) -> Generated:
    """Migrate an empty database at `url` and fill it."""
    rng = random.Random(seed)
    await upgrade(url)
    engine = create_engine(url)
    system = Actor.system("bench")
    fac_ids: list[uuid.UUID] = []
    doc_ids: list[uuid.UUID] = []
    try:
        async with session_maker(engine)() as session:
            province = await facilities.create_facility(
                session=session,
                data=FacilityCreate(
                    code="BVDK-BP",
                    name="Bệnh viện Đa khoa tỉnh Bình Phước",
                    level=FacilityLevel.provincial,
                ),
                actor=system,
            )
            for i, place in enumerate(PLACES):
                f = await facilities.create_facility(
                    session=session,
                    data=FacilityCreate(
                        code=f"TTYT-{i:02d}",
                        name=f"Trung tâm Y tế {place}",
                        level=FacilityLevel.district,
                        parent_id=province.id,
                    ),
                    actor=system,
                )
                name, _ = person(rng)
                doctor = await users.create_user(
                    session=session,
                    data=UserCreate(
                        username=f"bs.ttyt{i:02d}",
                        full_name=name,
                        title="BS.",
                        role=Role.doctor,
                        facility_id=f.id,
                    ),
                    actor=system,
                )
                fac_ids.append(f.id)
                doc_ids.append(doctor.id)
        patient_table: Any = Patient.__table__  # type: ignore[attr-defined]
        case_table: Any = Case.__table__  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        now = utcnow()
        done = 0
        while done < patients:
            n = min(BATCH, patients - done)
            # Plain dicts: building a million table models would dominate the run.
            p_rows: list[dict[str, Any]] = []
            c_rows: list[dict[str, Any]] = []
            for k in range(n):
                fi = rng.randrange(len(fac_ids))
                name, sex = person(rng)
                at = now - timedelta(minutes=patients - done - k)
                pid = uuid.uuid4()
                p_rows.append(
                    {
                        "id": pid,
                        "mrn": f"BN{done + k:08d}",
                        "full_name": name,
                        "name_folded": fold(name),
                        "sex": sex,
                        "birth_year": rng.randint(1930, 2020),
                        "facility_id": fac_ids[fi],
                        "address": f"{rng.choice(PLACES)}, Bình Phước",
                        "created_at": at,
                    }
                )
                c_rows.append(
                    {
                        "id": uuid.uuid4(),
                        "title": rng.choice(TITLES),
                        "specialty": rng.choice(SPECIALTIES),
                        "urgency": rng.choice(URGENCY),
                        "diagnosis": "",
                        "history": HISTORY,
                        "examination": "",
                        "results": "",
                        "treatment": "",
                        "question": "",
                        "patient_id": pid,
                        "facility_id": fac_ids[fi],
                        "author_id": doc_ids[fi],
                        "status": rng.choice(STATUSES),
                        "created_at": at,
                    }
                )
            async with engine.begin() as conn:
                await conn.execute(sa.insert(patient_table), p_rows)
                await conn.execute(sa.insert(case_table), c_rows)
            done += n
            if done % (BATCH * 20) == 0 or done == patients:
                rate = done / (time.perf_counter() - t0)
                say(f"records: {done:,} patients and cases ({rate:,.0f}/s)")
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(sa.text("ANALYZE"))
    finally:
        await engine.dispose()
    return Generated(url=url, facility_ids=fac_ids, doctor_ids=doc_ids)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the generator."""
    parser = argparse.ArgumentParser(prog="python -m bench.records_gen", description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    asyncio.run(generate(args.database_url, args.patients))
    return 0


if __name__ == "__main__":
    sys.exit(main())
