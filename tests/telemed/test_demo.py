"""The demo world on SQLite and PostgreSQL: seeded once, usable accounts, a coherent record."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from records import audit
from records.actor import Actor
from records.blobs import BlobStore
from records.db import session_maker
from records.errors import Conflict, Invalid, NotFound
from records.localtime import LOCAL_TZ as LOCAL
from records.models import (
    Attachment,
    AttachmentKind,
    Attendance,
    Case,
    CaseStatus,
    Consultation,
    ConsultationStatus,
    Facility,
    FacilityLevel,
    Minutes,
    MinutesStatus,
    Participant,
    ParticipantRole,
    User,
)
from records.passwords import hash_password
from records.render import Renderer
from records.services import attachment_previews, attachment_reads, auth, consultations
from records.services.provisioning import DEMO_USERNAMES
from telemed.demo import DemoSummary, seed_demo

PASSWORD = "Hoichan-demo-2025"


@pytest.fixture
async def seeded(engine: AsyncEngine, tmp_path: Path) -> tuple[DemoSummary, BlobStore]:
    store = BlobStore(tmp_path / "blobs")
    summary = await seed_demo(
        session_maker=session_maker(engine),
        blobs=store,
        password=PASSWORD,
        hash_password=hash_password,
    )
    return summary, store


async def test_demo_seeds_once(
    engine: AsyncEngine, seeded: tuple[DemoSummary, BlobStore], tmp_path: Path
) -> None:
    summary, store = seeded
    assert [a.username for a in summary.accounts] == list(DEMO_USERNAMES)
    roles = {a.username: (a.role, a.facility) for a in summary.accounts}
    assert roles["admin"][0] == "admin"
    assert roles["dieuphoi.tinh"] == ("coordinator", "BVDK-BP")
    assert roles["bs.chonthanh"] == ("doctor", "TTYT-CT")
    assert roles["bs.phuoclong"] == ("doctor", "TTYT-PL")
    assert roles["cs.timmach"] == ("specialist", "BVDK-BP")
    assert roles["cs.cdha"] == ("specialist", "BVDK-BP")
    assert roles["cs.thankinh"][0] == "specialist"
    assert summary.cases == 5 and summary.patients >= 6 and summary.attachments == 3
    with pytest.raises(Conflict) as err:
        await seed_demo(
            session_maker=session_maker(engine),
            blobs=store,
            password=PASSWORD,
            hash_password=hash_password,
        )
    assert "dữ liệu" in err.value.message
    async with session_maker(engine)() as session:
        users = (await session.execute(select(User))).scalars().all()
        assert len(users) == len(DEMO_USERNAMES)
        result = await audit.verify(session)
        assert result.ok and result.count > 50


async def test_weak_demo_password_is_refused(engine: AsyncEngine, tmp_path: Path) -> None:
    with pytest.raises(Invalid):
        await seed_demo(
            session_maker=session_maker(engine),
            blobs=BlobStore(tmp_path),
            password="123",
            hash_password=hash_password,
        )
    async with session_maker(engine)() as session:
        assert (await session.execute(select(Facility))).first() is None


async def test_demo_accounts_can_sign_in(
    engine: AsyncEngine, seeded: tuple[DemoSummary, BlobStore]
) -> None:
    async with session_maker(engine)() as session:
        for username in DEMO_USERNAMES:
            user = await auth.authenticate(session=session, username=username, password=PASSWORD)
            assert user.username == username and user.active
            assert user.full_name and (user.title or user.role == "admin")


async def test_referral_line(engine: AsyncEngine, seeded: tuple[DemoSummary, BlobStore]) -> None:
    async with session_maker(engine)() as session:
        fac = {f.code: f for f in (await session.execute(select(Facility))).scalars().all()}
    assert fac["BVDK-BP"].level == FacilityLevel.provincial
    assert fac["BVDK-BP"].name == "Bệnh viện Đa khoa tỉnh Bình Phước"
    assert fac["TTYT-CT"].level == FacilityLevel.district
    assert fac["TTYT-CT"].parent_id == fac["BVDK-BP"].id
    assert fac["TTYT-PL"].parent_id == fac["BVDK-BP"].id
    communes = [f for f in fac.values() if f.level == FacilityLevel.commune]
    assert len(communes) == 1 and communes[0].parent_id == fac["TTYT-CT"].id


async def _user(engine: AsyncEngine, username: str) -> User:
    async with session_maker(engine)() as session:
        return (await session.execute(select(User).where(User.username == username))).scalar_one()


async def test_tomorrows_session(
    engine: AsyncEngine, seeded: tuple[DemoSummary, BlobStore], renderer: Renderer
) -> None:
    timmach = await _user(engine, "cs.timmach")
    async with session_maker(engine)() as session:
        upcoming = (
            (
                await session.execute(
                    select(Consultation).where(Consultation.status == ConsultationStatus.scheduled)
                )
            )
            .scalars()
            .all()
        )
        assert len(upcoming) == 1
        c = upcoming[0]
        assert c.scheduled_start is not None
        start = c.scheduled_start.astimezone(LOCAL)
        tomorrow = datetime.now(LOCAL).date() + timedelta(days=1)
        assert (start.date(), start.hour, start.minute) == (tomorrow, 9, 0)
        assert c.chair_id == timmach.id
        parts = (
            await session.execute(
                select(User.username, Participant.role)
                .join(Participant, col(Participant.user_id) == User.id)
                .where(Participant.consultation_id == c.id)
            )
        ).all()
        assert dict(parts) == {
            "cs.timmach": ParticipantRole.chair,
            "cs.cdha": ParticipantRole.specialist,
            "bs.chonthanh": ParticipantRole.presenter,
        }
        case_ids = await consultations.case_ids(session, c.id)
        case = await session.get(Case, case_ids[0])
        assert case is not None and case.status == CaseStatus.scheduled
        assert case.icd10 == "I21.4" and case.question and case.examination
        facility = await session.get(Facility, case.facility_id)
        assert facility is not None and facility.code == "TTYT-CT"
        # The invited cardiologist reads the file and its CT; another district cannot.
        files = await attachment_reads.list_for_case(
            session=session, actor=Actor.of(timmach), case_id=case.id
        )
        kinds = {a.kind: a for a in files}
        assert set(kinds) == {AttachmentKind.dicom, AttachmentKind.lab, AttachmentKind.photo}
        ct = kinds[AttachmentKind.dicom]
        assert ct.meta["modality"] == "CT" and ct.content_type == "application/dicom"
        assert kinds[AttachmentKind.lab].content_type == "application/pdf"
        assert kinds[AttachmentKind.photo].meta["width"] > 0
        png, ctype = await attachment_previews.preview(
            session=session,
            blobs=seeded[1],
            renderer=renderer,
            actor=Actor.of(timmach),
            attachment_id=ct.id,
        )
        assert ctype == "image/png" and png.startswith(b"\x89PNG")
        phuoclong = await _user(engine, "bs.phuoclong")
        with pytest.raises(NotFound):
            await attachment_reads.list_for_case(
                session=session, actor=Actor.of(phuoclong), case_id=case.id
            )


async def test_past_session_has_final_minutes(
    engine: AsyncEngine, seeded: tuple[DemoSummary, BlobStore]
) -> None:
    async with session_maker(engine)() as session:
        ended = (
            await session.execute(
                select(Consultation).where(Consultation.status == ConsultationStatus.ended)
            )
        ).scalar_one()
        assert ended.scheduled_start is not None and ended.scheduled_start < datetime.now(LOCAL)
        final = (
            await session.execute(select(Minutes).where(Minutes.consultation_id == ended.id))
        ).scalar_one()
        assert final.status == MinutesStatus.final and final.conclusion and final.treatment_plan
        assert len(final.attendees) == 3 and final.summary.startswith("Bệnh sử, tiền sử:")
        # On the form: numbered, both answers per question, the patient block with identity.
        assert final.number == "1/BB-HC" and len(final.conclusions) == 3
        assert all(c["answer"] for c in final.conclusions)
        assert final.patient_block["ethnicity_name"] == "Kinh"
        assert final.patient_block["department"] == "Khoa Cấp cứu"
        attended = (
            (
                await session.execute(
                    select(Attendance).where(Attendance.consultation_id == ended.id)
                )
            )
            .scalars()
            .all()
        )
        assert len(attended) == 3 and all(a.left_at is not None for a in attended)
        statuses = set((await session.execute(select(Case.status))).scalars().all())
        assert statuses == {
            CaseStatus.draft,
            CaseStatus.submitted,
            CaseStatus.scheduled,
            CaseStatus.discussed,
            CaseStatus.closed,
        }
        requested = (
            (
                await session.execute(
                    select(Consultation).where(Consultation.status == ConsultationStatus.requested)
                )
            )
            .scalars()
            .all()
        )
        assert len(requested) == 1


async def test_demo_files_are_intact(
    engine: AsyncEngine, seeded: tuple[DemoSummary, BlobStore]
) -> None:
    _, store = seeded
    async with session_maker(engine)() as session:
        rows = (await session.execute(select(Attachment))).scalars().all()
    assert len(rows) == 3
    for row in rows:
        await store.verify(row.sha256, size=row.size)
    pdf = next(r for r in rows if r.content_type == "application/pdf")
    assert store.path_for(pdf.sha256).read_bytes().startswith(b"%PDF-")
