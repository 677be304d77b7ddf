"""A year of the demo network's past: the consultations the district centres asked for, held
or cancelled, with their minutes, attendance and network tests, so the activity dashboard has
something to show. Drawn from a fixed seed, so every demo has the same past.

Rows are written directly (the services stamp "now"; the past needs its own times), with one
audit event that says the history was drawn and how much of it.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from records import audit
from records.actor import Actor
from records.localtime import LOCAL_TZ
from records.models import (
    Attendance,
    Case,
    CaseStatus,
    Consultation,
    ConsultationCase,
    ConsultationStatus,
    Facility,
    Minutes,
    MinutesStatus,
    NetworkTestResult,
    NetworkVerdict,
    Participant,
    ParticipantRole,
    Patient,
    Sex,
    Urgency,
    User,
)
from records.text import fold

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng", "Bùi", "Đỗ", "Huỳnh", "Điểu")
MIDDLE = {Sex.male: ("Văn", "Đức", "Minh", "Quốc", "Hữu"), Sex.female: ("Thị", "Ngọc", "Thu")}
GIVEN = {
    Sex.male: ("Hùng", "Dũng", "Tâm", "Phúc", "Sơn", "Lộc", "Thành", "Khang"),
    Sex.female: ("Lan", "Hoa", "Mai", "Hạnh", "Thảo", "Nhung", "Yến", "Trang"),
}
# (title of the request, specialty asked for, how often it is an emergency)
REASONS: tuple[tuple[str, str, float], ...] = (
    ("Đau ngực, nghi hội chứng vành cấp", "Tim mạch", 0.5),
    ("Suy tim mất bù", "Tim mạch", 0.1),
    ("Yếu nửa người, nghi đột quỵ", "Thần kinh", 0.6),
    ("Đau đầu kéo dài, cần chụp CT sọ não", "Thần kinh", 0.1),
    ("Khó thở, viêm phổi nặng", "Hô hấp", 0.2),
    ("Đợt cấp bệnh phổi tắc nghẽn mạn tính", "Hô hấp", 0.1),
    ("Đau bụng cấp, nghi viêm ruột thừa", "Ngoại tổng quát", 0.4),
    ("Xuất huyết tiêu hóa trên", "Tiêu hóa", 0.5),
    ("Đái tháo đường, loét bàn chân nhiễm trùng", "Nội tiết", 0.0),
    ("Chấn thương sọ não sau tai nạn giao thông", "Ngoại thần kinh", 0.7),
    ("Sốt xuất huyết Dengue có dấu hiệu cảnh báo", "Truyền nhiễm", 0.3),
    ("Tiền sản giật ở thai 34 tuần", "Sản khoa", 0.5),
)
VERDICTS = (
    (NetworkVerdict.video, 60),
    (NetworkVerdict.reduced, 25),
    (NetworkVerdict.audio, 12),
    (NetworkVerdict.failed, 3),
)
HISTORY_ACTOR = Actor.system("demo")


def _month_starts(today: date, months: int) -> list[date]:
    """The first day of each of the ``months`` months before this one, oldest first."""
    first = today.replace(day=1)
    out: list[date] = []
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
        out.append(first)
    return out[::-1]


def _moment(rng: random.Random, month: date) -> datetime:
    """A working-hours moment in a month, in UTC."""
    day = rng.randint(1, 27)
    local = datetime(month.year, month.month, day, rng.randint(7, 16), rng.randint(0, 59))
    return local.replace(tzinfo=LOCAL_TZ).astimezone(UTC)


async def seed_history(
    session: AsyncSession,
    *,
    facilities: dict[str, Facility],
    people: dict[str, User],
    today: date,
    months: int = 12,
    seed: int = 2026,
) -> int:
    """Draw ``months`` months of past consultations; returns how many were drawn."""
    rng = random.Random(seed)
    host = facilities["BVDK-BP"]
    doctors = {"TTYT-CT": people["bs.chonthanh"], "TTYT-PL": people["bs.phuoclong"]}
    chair = people["cs.timmach"]
    panel = [people["cs.cdha"], people["cs.thankinh"]]
    drawn = 0
    for n_month, month in enumerate(_month_starts(today, months)):
        for code, doctor in doctors.items():
            # Use grows over the year as the centres get used to it.
            for _ in range(rng.randint(2, 4) + n_month // 3):
                await _one(session, rng, month, facilities[code], host, doctor, chair, panel)
                drawn += 1
            for _ in range(rng.randint(1, 3)):
                verdict = rng.choices([v for v, _ in VERDICTS], [w for _, w in VERDICTS])[0]
                session.add(
                    NetworkTestResult(
                        user_id=doctor.id,
                        measured_at=_moment(rng, month),
                        rtt_ms=round(rng.uniform(30, 260), 1),
                        jitter_ms=round(rng.uniform(2, 40), 1),
                        loss_pct=round(rng.uniform(0, 4), 2),
                        bitrate_kbps=round(rng.uniform(250, 4000)),
                        verdict=verdict,
                    )
                )
    await audit.record(
        session,
        actor=HISTORY_ACTOR,
        action="create",
        object_type="consultation",
        detail={"demo_history_months": months, "consultations": drawn},
    )
    await session.commit()
    return drawn


async def _one(
    session: AsyncSession,
    rng: random.Random,
    month: date,
    requesting: Facility,
    host: Facility,
    doctor: User,
    chair: User,
    panel: list[User],
) -> None:
    """One past request: patient, case, consultation and what became of it."""
    sex = rng.choice((Sex.male, Sex.female))
    name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
    title, specialty, emergency_share = rng.choice(REASONS)
    urgency = (
        Urgency.emergency
        if rng.random() < emergency_share
        else rng.choice((Urgency.routine, Urgency.routine, Urgency.urgent))
    )
    created = _moment(rng, month)
    patient = Patient(
        facility_id=requesting.id,
        mrn=f"LS{rng.randint(100000, 999999)}",
        full_name=name,
        name_folded=fold(name),
        sex=sex,
        birth_year=rng.randint(1940, 2015),
        created_by=doctor.id,
        created_at=created - timedelta(days=rng.randint(0, 400)),
    )
    session.add(patient)
    await session.flush()
    cancelled = rng.random() < 0.12
    case = Case(
        patient_id=patient.id,
        facility_id=requesting.id,
        author_id=doctor.id,
        title=title,
        specialty=specialty,
        urgency=urgency,
        question="Xin ý kiến chẩn đoán và hướng xử trí.",
        status=CaseStatus.submitted if cancelled else CaseStatus.closed,
        created_at=created - timedelta(hours=rng.uniform(0.2, 6)),
    )
    session.add(case)
    if urgency == Urgency.emergency:
        # Most emergencies get a time within the half hour; some wait longer.
        waited = timedelta(minutes=rng.choice((8, 12, 15, 20, 25, 28, 35, 50)))
        start = created + waited + timedelta(minutes=rng.randint(20, 120))
    else:
        waited = timedelta(hours=rng.uniform(1, 30))
        start = created + timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 4))
    consultation = Consultation(
        title=f"Hội chẩn {specialty.lower()}: {title.lower()}",
        requesting_facility_id=requesting.id,
        host_facility_id=host.id,
        requested_by=doctor.id,
        chair_id=chair.id,
        status=ConsultationStatus.cancelled if cancelled else ConsultationStatus.ended,
        created_at=created,
        scheduled_at=created + waited,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=60),
    )
    if not cancelled:
        consultation.started_at = start + timedelta(minutes=rng.randint(0, 10))
        consultation.ended_at = consultation.started_at + timedelta(minutes=rng.randint(25, 70))
    session.add(consultation)
    await session.flush()
    session.add(ConsultationCase(consultation_id=consultation.id, case_id=case.id))
    present = [chair, doctor, *rng.sample(panel, rng.randint(0, len(panel)))]
    for person in present:
        role = ParticipantRole.chair if person is chair else ParticipantRole.specialist
        if person is doctor:
            role = ParticipantRole.presenter
        session.add(
            Participant(
                consultation_id=consultation.id, user_id=person.id, role=role, invited_at=created
            )
        )
    if cancelled or consultation.started_at is None or consultation.ended_at is None:
        return
    for person in present:
        session.add(
            Attendance(
                consultation_id=consultation.id,
                user_id=person.id,
                peer_id=uuid.uuid4().hex[:16],
                joined_at=consultation.started_at,
                left_at=consultation.ended_at,
                reason="left",
            )
        )
    if rng.random() < 0.9:
        session.add(
            Minutes(
                consultation_id=consultation.id,
                case_id=case.id,
                summary=f"{name}, {specialty.lower()}: {title}.",
                conclusion="Thống nhất chẩn đoán và hướng xử trí như đề xuất.",
                treatment_plan="Điều trị tại tuyến huyện, tái khám sau 1 tuần.",
                status=MinutesStatus.final,
                author_id=chair.id,
                finalized_by=chair.id,
                finalized_at=consultation.ended_at + timedelta(hours=rng.uniform(0.3, 30)),
                created_at=consultation.ended_at,
            )
        )
