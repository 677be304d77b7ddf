"""Seeding the demo: the world created through the services, then four sessions' stories."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, time, timedelta
from typing import Any

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
    AttachmentKind,
    Case,
    CaseCreate,
    CaseStatus,
    Consultation,
    ConsultationRequest,
    ConsultationSchedule,
    Facility,
    FacilityCreate,
    MinutesUpdate,
    ParticipantRole,
    Patient,
    PatientCreate,
    User,
    UserCreate,
)
from records.passwords import validate_new_password
from records.services import (
    attachments,
    cases,
    consultations,
    facilities,
    minutes,
    patients,
    room_events,
    schedules,
    users,
)

from .files import ct_dicom, ecg_png, lab_report_pdf
from .history import seed_history
from .world import (
    CASE_APPENDICITIS,
    CASE_CHEST_PAIN,
    CASE_DIABETIC_FOOT,
    CASE_STROKE,
    CASE_VARICEAL_BLEED,
    FACILITIES,
    PATIENTS,
    PEOPLE,
    STROKE_MINUTES,
    DemoAccount,
    DemoSummary,
)

DEMO_ACTOR = Actor.system("demo")
MAX_FIXTURE = 20 * 1024 * 1024


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 256 * 1024):
        yield data[i : i + 256 * 1024]


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)


async def _is_empty(session: AsyncSession) -> bool:
    for model in (Facility, User):
        count = (await session.execute(select(func.count()).select_from(model))).scalar_one()
        if count:
            return False
    return True


async def _create_case(
    session: AsyncSession, *, actor: Actor, patient: Patient, data: dict[str, Any]
) -> Case:
    return await cases.create_case(
        session=session, actor=actor, data=CaseCreate(patient_id=patient.id, **data)
    )


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
                ),
            )
        summary.patients = len(pts)

        today = datetime.now(LOCAL_TZ).date()
        await _seed_chest_pain(session, blobs, actor, fac, people, pts["luc"], today, summary)
        await _create_case(
            session, actor=actor["bs.chonthanh"], patient=pts["hen"], data=CASE_DIABETIC_FOOT
        )
        await _seed_stroke(session, actor, fac, people, pts["hong"], today, summary)
        await _seed_pending_request(session, actor, fac, pts["dung"], today, summary)
        await _seed_closed(session, actor, pts["loan"])
        summary.cases = int(
            (await session.execute(select(func.count()).select_from(Case))).scalar_one()
        )
        await _backdate_requests(session)
        if history_months:
            summary.history = await seed_history(
                session, facilities=fac, people=people, today=today, months=history_months
            )
    return summary


async def _backdate_requests(session: AsyncSession) -> None:
    """The services stamp a request "now"; a demo session held days ago was asked for before."""
    rows = (await session.execute(select(Consultation))).scalars().all()
    for c in rows:
        if c.scheduled_start is not None and c.scheduled_start < c.created_at:
            c.created_at = c.scheduled_start - timedelta(days=1, hours=3)
            c.scheduled_at = c.created_at + timedelta(hours=2)
            session.add(c)
    await session.commit()


async def _seed_chest_pain(
    session: AsyncSession,
    blobs: BlobStore,
    actor: dict[str, Actor],
    fac: dict[str, Facility],
    people: dict[str, User],
    patient: Patient,
    today: date,
    summary: DemoSummary,
) -> None:
    """Chơn Thành's chest pain case with its CT, lab report and ECG, scheduled for tomorrow."""
    doctor = actor["bs.chonthanh"]
    case = await _create_case(session, actor=doctor, patient=patient, data=CASE_CHEST_PAIN)
    sampled = _local(today, 6, 40)
    files = [
        (
            AttachmentKind.imaging,
            "CT-nguc-co-can-quang.dcm",
            ct_dicom(),
            "CT ngực có cản quang, lát cắt ngang qua trung thất",
        ),
        (
            AttachmentKind.lab,
            "phieu-xet-nghiem-sinh-hoa.pdf",
            lab_report_pdf(
                patient=patient.full_name,
                born=patient.birth_year or 0,
                mrn=patient.mrn,
                when=sampled,
            ),
            "Phiếu kết quả xét nghiệm sinh hóa máu, troponin 0 giờ và 3 giờ",
        ),
        (
            AttachmentKind.photo,
            "dien-tam-do-luc-nhap-vien.png",
            ecg_png(),
            "Ảnh chụp điện tâm đồ 12 chuyển đạo lúc nhập viện",
        ),
    ]
    for kind, filename, data, description in files:
        await attachments.upload(
            session=session,
            blobs=blobs,
            actor=doctor,
            case_id=case.id,
            kind=kind,
            filename=filename,
            chunks=_chunks(data),
            max_bytes=MAX_FIXTURE,
            description=description,
        )
        summary.attachments += 1
    tomorrow = today + timedelta(days=1)
    consultation = await consultations.request_consultation(
        session=session,
        actor=doctor,
        data=ConsultationRequest(
            title="Hội chẩn tim mạch: nghi nhồi máu cơ tim không ST chênh lên",
            case_ids=[case.id],
            host_facility_id=fac["BVDK-BP"].id,
            note="Bệnh nhân đang điều trị tại khoa Cấp cứu – Hồi sức, huyết động ổn định.",
            preferred_start=_local(tomorrow, 9),
        ),
    )
    await schedules.schedule(
        session=session,
        actor=actor["dieuphoi.tinh"],
        consultation_id=consultation.id,
        data=ConsultationSchedule(
            scheduled_start=_local(tomorrow, 9),
            scheduled_end=_local(tomorrow, 10),
            chair_id=people["cs.timmach"].id,
            invitees=[people["cs.cdha"].id, people["bs.chonthanh"].id],
        ),
        roles={people["bs.chonthanh"].id: ParticipantRole.presenter},
    )
    summary.consultations += 1


async def _seed_stroke(
    session: AsyncSession,
    actor: dict[str, Actor],
    fac: dict[str, Facility],
    people: dict[str, User],
    patient: Patient,
    today: date,
    summary: DemoSummary,
) -> None:
    """Phước Long's stroke case, discussed three days ago with Chợ Rẫy; the minutes are final."""
    doctor = actor["bs.phuoclong"]
    chair = people["cs.thankinh"]
    case = await _create_case(session, actor=doctor, patient=patient, data=CASE_STROKE)
    day = today - timedelta(days=3)
    start, end = _local(day, 14), _local(day, 15)
    consultation = await consultations.request_consultation(
        session=session,
        actor=doctor,
        data=ConsultationRequest(
            title="Hội chẩn khẩn thần kinh: nhồi máu não giờ thứ 5",
            case_ids=[case.id],
            host_facility_id=fac["BVDK-BP"].id,
            note="Xin hội chẩn khẩn, bệnh nhân đang ở khoa Cấp cứu.",
        ),
    )
    await schedules.schedule(
        session=session,
        actor=actor["dieuphoi.tinh"],
        consultation_id=consultation.id,
        data=ConsultationSchedule(
            scheduled_start=start,
            scheduled_end=end,
            chair_id=chair.id,
            invitees=[people["cs.cdha"].id, people["bs.phuoclong"].id],
            requires_admission=False,
        ),
        roles={people["bs.phuoclong"].id: ParticipantRole.presenter},
    )
    # What the room reported while the session ran.
    room = consultation.room_id
    present = [("cs.thankinh", 2, 58), ("bs.phuoclong", 1, 58), ("cs.cdha", 4, 50)]
    for n, (name, joined, _) in enumerate(present, start=1):
        await room_events.record_join(
            session=session,
            room_id=room,
            user_id=people[name].id,
            peer_id=f"p{n}",
            at=start + timedelta(minutes=joined),
        )
    for minute, name, line in (
        (6, "cs.thankinh", "Nhờ chị Lan Anh chia sẻ màn hình phim CT sọ não."),
        (31, "bs.phuoclong", "Xe cấp cứu và bác sĩ đi kèm đã sẵn sàng."),
    ):
        await room_events.record_chat(
            session=session,
            room_id=room,
            user_id=people[name].id,
            text=line,
            at=start + timedelta(minutes=minute),
        )
    for n, (name, _, left) in enumerate(present, start=1):
        await room_events.record_leave(
            session=session,
            room_id=room,
            user_id=people[name].id,
            peer_id=f"p{n}",
            at=start + timedelta(minutes=left),
        )
    await room_events.record_room_ended(
        session=session, room_id=room, at=end - timedelta(minutes=2)
    )
    chair_actor = actor["cs.thankinh"]
    await minutes.save_draft(
        session=session,
        consultation_id=consultation.id,
        case_id=case.id,
        actor=chair_actor,
        data=MinutesUpdate.model_validate(STROKE_MINUTES),
    )
    await minutes.finalize(
        session=session, consultation_id=consultation.id, case_id=case.id, actor=chair_actor
    )
    summary.consultations += 1


async def _seed_pending_request(
    session: AsyncSession,
    actor: dict[str, Actor],
    fac: dict[str, Facility],
    patient: Patient,
    today: date,
    summary: DemoSummary,
) -> None:
    """A request from Phước Long waiting for the provincial coordinator."""
    doctor = actor["bs.phuoclong"]
    case = await _create_case(session, actor=doctor, patient=patient, data=CASE_VARICEAL_BLEED)
    await consultations.request_consultation(
        session=session,
        actor=doctor,
        data=ConsultationRequest(
            title="Hội chẩn tiêu hóa: xuất huyết tiêu hóa trên trên nền xơ gan",
            case_ids=[case.id],
            host_facility_id=fac["BVDK-BP"].id,
            note="Đề nghị hội chẩn trong ngày mai, bệnh nhân cần nội soi can thiệp.",
            preferred_start=_local(today + timedelta(days=1), 14),
        ),
    )
    summary.consultations += 1


async def _seed_closed(session: AsyncSession, actor: dict[str, Actor], patient: Patient) -> None:
    """A case sent, then closed without a session: operated on at the district centre."""
    doctor = actor["bs.phuoclong"]
    case = await _create_case(session, actor=doctor, patient=patient, data=CASE_APPENDICITIS)
    await cases.transition(session=session, case_id=case.id, to=CaseStatus.submitted, actor=doctor)
    await cases.transition(
        session=session,
        case_id=case.id,
        to=CaseStatus.closed,
        actor=doctor,
        note="Đã mổ nội soi cắt ruột thừa tại Trung tâm, hậu phẫu ổn định",
    )


__all__ = ["DemoAccount", "DemoSummary", "ecg_png", "lab_report_pdf", "seed_demo"]
