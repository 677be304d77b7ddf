"""The demo's stories: four sessions' cases as a district centre and the province lived them,
each created through the services (requests, schedules, the room's events, signed minutes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from records.actor import Actor
from records.blobs import BlobStore
from records.localtime import LOCAL_TZ
from records.models import (
    AttachmentKind,
    Case,
    CaseCreate,
    CaseStatus,
    Consultation,
    ConsultationRequest,
    ConsultationSchedule,
    Facility,
    MinutesUpdate,
    ParticipantRole,
    Patient,
    User,
)
from records.services import (
    attachments,
    cases,
    consultations,
    minutes,
    minutes_signing,
    room_events,
    schedules,
)

from .files import ct_dicom, ecg_png, lab_report_pdf
from .world import (
    CASE_APPENDICITIS,
    CASE_CHEST_PAIN,
    CASE_STROKE,
    CASE_VARICEAL_BLEED,
    STROKE_MINUTES,
    DemoSummary,
)

DEMO_ACTOR = Actor.system("demo")
MAX_FIXTURE = 20 * 1024 * 1024


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    """A fixture file as an upload's chunks."""
    for i in range(0, len(data), 256 * 1024):
        yield data[i : i + 256 * 1024]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Vietnam."""
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)


async def create_case(
    session: AsyncSession, *, actor: Actor, patient: Patient, data: dict[str, Any]
) -> Case:
    """A case of a patient, written by a doctor."""
    return await cases.create_case(
        session=session, actor=actor, data=CaseCreate(patient_id=patient.id, **data)
    )


async def backdate_requests(session: AsyncSession) -> None:
    """The services stamp a request "now"; a demo session held days ago was asked for before."""
    rows = (await session.execute(select(Consultation))).scalars().all()
    for c in rows:
        if c.scheduled_start is not None and c.scheduled_start < c.created_at:
            c.created_at = c.scheduled_start - timedelta(days=1, hours=3)
            c.scheduled_at = c.created_at + timedelta(hours=2)
            session.add(c)
    await session.commit()


async def chest_pain(
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
    case = await create_case(session, actor=doctor, patient=patient, data=CASE_CHEST_PAIN)
    sampled = local(today, 6, 40)
    files = [
        (
            AttachmentKind.imaging,
            "CT-nguc-co-can-quang.dcm",
            ct_dicom(
                patient_id=patient.mrn,
                patient_name=patient.full_name,
                birth_date=patient.birth_date.strftime("%Y%m%d") if patient.birth_date else "",
            ),
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
            chunks=chunks(data),
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
            preferred_start=local(tomorrow, 9),
        ),
    )
    await schedules.schedule(
        session=session,
        actor=actor["dieuphoi.tinh"],
        consultation_id=consultation.id,
        data=ConsultationSchedule(
            scheduled_start=local(tomorrow, 9),
            scheduled_end=local(tomorrow, 10),
            chair_id=people["cs.timmach"].id,
            invitees=[people["cs.cdha"].id, people["bs.chonthanh"].id],
        ),
        roles={people["bs.chonthanh"].id: ParticipantRole.presenter},
    )
    summary.consultations += 1


async def stroke(
    session: AsyncSession,
    actor: dict[str, Actor],
    fac: dict[str, Facility],
    people: dict[str, User],
    patient: Patient,
    today: date,
    summary: DemoSummary,
    password: str,
) -> None:
    """Phước Long's stroke case, discussed three days ago with Chợ Rẫy; the minutes are final."""
    doctor = actor["bs.phuoclong"]
    chair = people["cs.thankinh"]
    case = await create_case(session, actor=doctor, patient=patient, data=CASE_STROKE)
    day = today - timedelta(days=3)
    start, end = local(day, 14), local(day, 15)
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
    # The chair acts as secretary here; confirming with the password makes the minutes final.
    await minutes_signing.confirm(
        session=session,
        consultation_id=consultation.id,
        case_id=case.id,
        actor=chair_actor,
        password=password,
    )
    summary.consultations += 1


async def pending_request(
    session: AsyncSession,
    actor: dict[str, Actor],
    fac: dict[str, Facility],
    patient: Patient,
    today: date,
    summary: DemoSummary,
) -> None:
    """A request from Phước Long waiting for the provincial coordinator."""
    doctor = actor["bs.phuoclong"]
    case = await create_case(session, actor=doctor, patient=patient, data=CASE_VARICEAL_BLEED)
    await consultations.request_consultation(
        session=session,
        actor=doctor,
        data=ConsultationRequest(
            title="Hội chẩn tiêu hóa: xuất huyết tiêu hóa trên trên nền xơ gan",
            case_ids=[case.id],
            host_facility_id=fac["BVDK-BP"].id,
            note="Đề nghị hội chẩn trong ngày mai, bệnh nhân cần nội soi can thiệp.",
            preferred_start=local(today + timedelta(days=1), 14),
        ),
    )
    summary.consultations += 1


async def closed(session: AsyncSession, actor: dict[str, Actor], patient: Patient) -> None:
    """A case sent, then closed without a session: operated on at the district centre."""
    doctor = actor["bs.phuoclong"]
    case = await create_case(session, actor=doctor, patient=patient, data=CASE_APPENDICITIS)
    await cases.transition(session=session, case_id=case.id, to=CaseStatus.submitted, actor=doctor)
    await cases.transition(
        session=session,
        case_id=case.id,
        to=CaseStatus.closed,
        actor=doctor,
        note="Đã mổ nội soi cắt ruột thừa tại Trung tâm, hậu phẫu ổn định",
    )
