"""Seeding the demo: the world created through the services, then four sessions' stories."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import func, select

from records import audit
from records.actor import Actor
from records.blobs import BlobStore
from records.db import SessionMaker
from records.errors import Conflict
from records.localtime import LOCAL_TZ
from records.messages import msg
from records.models import (
    Case,
    Facility,
    FacilityCreate,
    Patient,
    PatientCreate,
    User,
    UserCreate,
)
from records.passwords import validate_new_password
from records.services import (
    facilities,
    patients,
    users,
)

from . import stories
from .files import ecg_png, lab_report_pdf
from .history import seed_history
from .stories import DEMO_ACTOR
from .world import (
    CASE_DIABETIC_FOOT,
    FACILITIES,
    PATIENTS,
    PEOPLE,
    DemoAccount,
    DemoSummary,
)


async def _is_empty(session: AsyncSession) -> bool:
    for model in (Facility, User):
        count = (await session.execute(select(func.count()).select_from(model))).scalar_one()
        if count:
            return False
    return True


async def seed_demo(
    *,
    session_maker: SessionMaker,
    blobs: BlobStore,
    password: str,
    hash_password: Callable[[str], str],
    history_months: int = 0,
) -> DemoSummary:
    """Create the demo world in an empty database; Conflict if any facility or user exists.

    ``history_months`` adds that many months of past activity (for the dashboard)."""
    validate_new_password(password, username="")
    summary = DemoSummary()
    async with session_maker() as session:
        if not await _is_empty(session):
            raise Conflict(
                msg(
                    "Cơ sở dữ liệu đã có dữ liệu; dữ liệu mẫu chỉ được tạo trên cơ sở dữ liệu trống"
                )
            )
        # Every demo account shares the password, so one (slow, salted) hash serves them all.
        password_hash = await asyncio.to_thread(hash_password, password)

        fac: dict[str, Facility] = {}
        for spec in FACILITIES:
            parent = fac[spec["parent"]].id if spec["parent"] else None
            fac[spec["code"]] = await facilities.create_facility(
                session=session,
                actor=DEMO_ACTOR,
                data=FacilityCreate(
                    code=spec["code"],
                    name=spec["name"],
                    level=spec["level"],
                    address=spec["address"],
                    governing_body=spec["governing_body"],
                    parent_id=parent,
                ),
            )
            summary.facilities.append(spec["code"])

        people: dict[str, User] = {}
        for username, full_name, title, role, code, specialty in PEOPLE:
            user = await users.create_user(
                session=session,
                actor=DEMO_ACTOR,
                data=UserCreate(
                    username=username,
                    full_name=full_name,
                    title=title,
                    role=role,
                    specialty=specialty,
                    facility_id=fac[code].id,
                ),
            )
            user.password_hash = password_hash
            user.password_changed_at = user.created_at
            session.add(user)
            await audit.record(
                session,
                actor=DEMO_ACTOR,
                action="admin",
                object_type="user",
                object_id=user.id,
                detail={"change": "initial password"},
            )
            await session.commit()
            people[username] = user
            summary.accounts.append(
                DemoAccount(
                    username=username,
                    role=str(role),
                    facility=code,
                    display_name=user.display_name,
                )
            )
        actor = {name: Actor.of(user) for name, user in people.items()}

        pts: dict[str, Patient] = {}
        for p in PATIENTS:
            pts[p.key] = await patients.create_patient(
                session=session,
                actor=actor[p.doctor],
                data=PatientCreate(
                    mrn=p.mrn,
                    full_name=p.name,
                    sex=p.sex,
                    birth_year=p.year,
                    birth_date=p.born,
                    insurance_number=p.bhyt,
                    address=p.address,
                    ethnicity=p.ethnicity,
                    occupation=p.occupation,
                    citizen_id=p.citizen_id,
                ),
            )
        summary.patients = len(pts)

        today = datetime.now(LOCAL_TZ).date()
        await stories.chest_pain(session, blobs, actor, fac, people, pts["luc"], today, summary)
        await stories.create_case(
            session, actor=actor["bs.chonthanh"], patient=pts["hen"], data=CASE_DIABETIC_FOOT
        )
        await stories.stroke(session, actor, fac, people, pts["hong"], today, summary, password)
        await stories.pending_request(session, actor, fac, pts["dung"], today, summary)
        await stories.closed(session, actor, pts["loan"])
        summary.cases = int(
            (await session.execute(select(func.count()).select_from(Case))).scalar_one()
        )
        await stories.backdate_requests(session)
        if history_months:
            summary.history = await seed_history(
                session, facilities=fac, people=people, today=today, months=history_months
            )
    return summary


__all__ = ["DemoAccount", "DemoSummary", "ecg_png", "lab_report_pdf", "seed_demo"]
