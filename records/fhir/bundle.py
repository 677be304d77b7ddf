"""The document Bundle of a consultation about one case: the minutes as its Composition, then
everyone and everything they refer to. Access as for the minutes; the export is audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid, NotFound
from ..localtime import to_local
from ..messages import msg
from ..models import (
    Attachment,
    AttachmentKind,
    Case,
    CaseOutcome,
    Consultation,
    ConsultationCase,
    Facility,
    FacilityLevel,
    Minutes,
    MinutesStatus,
    OutcomeKind,
    Participant,
    ParticipantRole,
    Patient,
    User,
)
from ..models.base import utcnow
from ..services import attendance as attendance_svc
from ..vocabulary import label
from . import resources as r

AttachmentUrl = Callable[[Attachment], str]


def _text(message: Any) -> str:
    # The document speaks Vietnamese, the language of the record.
    return str(message)


async def _the_case(
    session: AsyncSession, actor: Actor, consultation: Consultation, case_id: uuid.UUID | None
) -> Case:
    cases = list(
        (
            await session.execute(
                select(Case)
                .join(ConsultationCase, col(ConsultationCase.case_id) == Case.id)
                .where(
                    ConsultationCase.consultation_id == consultation.id,
                    access.cases_filter(actor, utcnow()),
                )
                .order_by(col(Case.created_at))
            )
        )
        .scalars()
        .all()
    )
    if case_id is not None:
        found = next((c for c in cases if c.id == case_id), None)
        if found is None:
            raise NotFound(msg("Hồ sơ không thuộc phiên hội chẩn này"))
        return found
    if not cases:
        raise NotFound(msg("Không tìm thấy biên bản"))
    if len(cases) > 1:
        problem = msg("Phiên hội chẩn có nhiều hồ sơ: hãy chọn hồ sơ (case_id)")
        raise Invalid(problem, fields={"case_id": problem})
    return cases[0]


async def consultation_bundle(
    *,
    session: AsyncSession,
    consultation_id: uuid.UUID,
    actor: Actor,
    attachment_url: AttachmentUrl,
    case_id: uuid.UUID | None = None,
) -> Bundle:
    """The FHIR document about one case of a consultation (the only readable one when
    ``case_id`` is None); NotFound for those who may not read its minutes, Conflict before
    there are minutes."""
    consultation = await access.require_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    case = await _the_case(session, actor, consultation, case_id)
    minutes = (
        await session.execute(
            select(Minutes).where(
                Minutes.consultation_id == consultation.id, Minutes.case_id == case.id
            )
        )
    ).scalar_one_or_none()
    if minutes is None:
        raise Conflict(msg("Chưa có biên bản cho hồ sơ này"))
    bundle = await document(session, consultation, case, minutes, attachment_url)
    await audit.record_now(
        session,
        actor=actor,
        action="export",
        object_type="minutes",
        object_id=minutes.id,
        patient_id=case.patient_id,
        detail={"format": "fhir", "consultation_id": str(consultation.id)},
    )
    return bundle


async def document(
    session: AsyncSession,
    c: Consultation,
    case: Case,
    minutes: Minutes,
    attachment_url: AttachmentUrl,
) -> Bundle:
    """The document Bundle of minutes about a case (no access check: for callers that made
    theirs, the export above and the archive)."""
    patient = await session.get(Patient, case.patient_id)
    if patient is None:
        raise NotFound(msg("Không tìm thấy bệnh nhân"))
    invited = list(
        (
            await session.execute(
                select(Participant)
                .where(Participant.consultation_id == c.id)
                .order_by(col(Participant.invited_at))
            )
        )
        .scalars()
        .all()
    )
    present = await attendance_svc.attendance(session, c)
    attachments = list(
        (
            await session.execute(
                select(Attachment)
                .where(Attachment.case_id == case.id)
                .order_by(col(Attachment.uploaded_at))
            )
        )
        .scalars()
        .all()
    )
    outcomes = list(
        (
            await session.execute(
                select(CaseOutcome)
                .where(CaseOutcome.minutes_id == minutes.id)
                .order_by(col(CaseOutcome.recorded_at))
            )
        )
        .scalars()
        .all()
    )
    requester_id = c.requested_by or case.author_id
    user_ids = [
        requester_id,
        *(p.user_id for p in invited),
        *(a.user_id for a in present),
        *([c.chair_id] if c.chair_id else []),
        *([minutes.finalized_by] if minutes.finalized_by else []),
        *(o.recorded_by for o in outcomes),
    ]
    users = {
        u.id: u
        for u in (
            await session.execute(
                select(User).where(col(User.id).in_(list(dict.fromkeys(user_ids))))
            )
        )
        .scalars()
        .all()
    }
    facility_ids = {c.host_facility_id, c.requesting_facility_id, patient.facility_id}
    facility_ids |= {u.facility_id for u in users.values()}
    facilities = (
        (await session.execute(select(Facility).where(col(Facility.id).in_(list(facility_ids)))))
        .scalars()
        .all()
    )
    roles = {p.user_id: ParticipantRole(p.role) for p in invited}
    roles.update({a.user_id: a.role for a in present})

    def role_label(user: User) -> str:
        part = roles.get(user.id) or attendance_svc.role_of(c, user, roles)
        return _text(label(part))

    org_entries = [r.organization(f, _text(label(FacilityLevel(f.level)))) for f in facilities]
    practitioners = [r.practitioner(u) for u in users.values()]
    role_of_user = {u.id: r.practitioner_role(u, c, role_label(u)) for u in users.values()}
    fhir_patient = r.patient(patient)
    documents: list[Resource] = []
    studies: list[Resource] = []
    request_id = r.derived_id("service-request", c.id, case.id)
    encounter_id = r.derived_id("encounter", c.id, case.id)
    for a in attachments:
        documents.append(
            r.document_reference(
                a,
                patient.id,
                encounter_id,
                _text(label(AttachmentKind(a.kind))),
                attachment_url,
                author_included=a.uploaded_by in users,
            )
        )
        if a.kind == AttachmentKind.dicom:
            studies.append(r.imaging_study(a, patient.id, encounter_id))
    requester_role = str(role_of_user[requester_id].id) if requester_id in users else None
    if requester_role is None:
        raise NotFound(msg("Không tìm thấy người gửi yêu cầu"))
    service = r.service_request(c, case, requester_role, [str(d.id) for d in documents])
    appointment = r.appointment(
        c,
        case,
        request_id,
        [(str(role_of_user[p.user_id].id), str(p.response)) for p in invited if p.user_id in users]
        or [(requester_role, "accepted")],
    )
    encounter = r.encounter(
        c,
        case,
        str(appointment.id),
        request_id,
        [
            (str(role_of_user[a.user_id].id), i.joined_at, i.left_at)
            for a in present
            if a.user_id in users
            for i in a.intervals
        ],
    )
    condition = (
        r.condition(minutes.id, patient.id, encounter_id, minutes.conclusion, minutes.icd10)
        if minutes.icd10
        else None
    )
    composition = r.composition(
        _composition(
            c, case, minutes, present, outcomes, users, role_of_user, condition, documents, studies
        )
    )
    resources: list[Resource] = [
        composition,
        fhir_patient,
        *org_entries,
        *practitioners,
        *role_of_user.values(),
        service,
        appointment,
        encounter,
        *([condition] if condition else []),
        *documents,
        *studies,
    ]
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "identifier": {
                "system": "urn:ietf:rfc:3986",
                "value": "urn:uuid:"
                + r.derived_id("bundle", minutes.id, minutes.updated_at or minutes.created_at),
            },
            "type": "document",
            "timestamp": utcnow().isoformat(),
            "entry": [r.entry(x) for x in resources],
        }
    )


def _section(
    title: str, paragraphs: list[str], entries: list[Resource] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "title": title,
        "code": {"text": title},
        "text": r.narrative(*paragraphs),
    }
    if entries:
        out["entry"] = [r.ref(e.id) for e in entries]
    return out


def _composition(
    c: Consultation,
    case: Case,
    minutes: Minutes,
    present: list[attendance_svc.Attendee],
    outcomes: list[CaseOutcome],
    users: dict[uuid.UUID, User],
    role_of_user: dict[uuid.UUID, Any],
    condition: Resource | None,
    documents: list[Resource],
    studies: list[Resource],
) -> dict[str, Any]:
    final = minutes.status == MinutesStatus.final
    author = minutes.finalized_by or minutes.author_id or c.chair_id
    authors = [r.ref(role_of_user[author].id)] if author in role_of_user else []
    if not authors:
        authors = [r.ref(c.host_facility_id)]
    attending = [
        f"{a.name} ({_text(label(a.role))}, {a.facility}): "
        + "; ".join(
            f"{to_local(i.joined_at):%H:%M}–{to_local(i.left_at):%H:%M}"
            if i.left_at
            else f"{to_local(i.joined_at):%H:%M}–"
            for i in a.intervals
        )
        for a in present
    ] or [f"{p.get('name', '')} ({p.get('facility', '')})" for p in minutes.attendees]
    codes = minutes.icd10_codes or ([minutes.icd10] if minutes.icd10 else [])
    diagnosis = minutes.conclusion + (f" (ICD-10 {', '.join(codes)})" if codes else "")
    # One answer per question of the case, as the form puts them, then the diagnosis.
    answers = [
        f"{i}. {item.get('question', '')}: {item.get('answer', '')}"
        for i, item in enumerate(minutes.conclusions, start=1)
    ]
    sections = [
        _section(
            "Thành phần tham dự",
            attending,
            [role_of_user[a.user_id] for a in present if a.user_id in role_of_user],
        ),
        _section("Lý do hội chẩn", [minutes.reason]),
        _section("Tóm tắt tiền sử, diễn biến, kết quả và điều trị", [minutes.summary]),
        _section("Ý kiến thảo luận", [minutes.findings]),
        _section(
            "Kết luận",
            [*answers, f"Chẩn đoán: {diagnosis}" if answers else diagnosis],
            [condition] if condition else None,
        ),
        _section("Hướng điều trị và chăm sóc", [minutes.treatment_plan]),
    ]
    if outcomes:
        sections.append(
            _section(
                "Kết quả sau hội chẩn",
                [
                    f"{o.outcome_date:%d/%m/%Y}: {_text(label(OutcomeKind(o.kind)))}"
                    + (f". {o.note}" if o.note else "")
                    for o in outcomes
                ],
            )
        )
    if documents or studies:
        sections.append(
            _section(
                "Tài liệu đính kèm",
                [str(getattr(d, "description", "") or "") for d in documents],
                [*documents, *studies],
            )
        )
    data: dict[str, Any] = {
        "id": str(minutes.id),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{minutes.id}"},
        "status": "final" if final else "preliminary",
        "type": {
            "coding": [{"system": r.LOINC, "code": "11488-4", "display": "Consult note"}],
            "text": "Biên bản hội chẩn",
        },
        "category": [{"text": "Hội chẩn từ xa"}],
        "subject": r.ref(case.patient_id),
        "encounter": r.ref(r.derived_id("encounter", c.id, case.id)),
        "date": (minutes.finalized_at or minutes.updated_at or minutes.created_at).isoformat(),
        "author": authors,
        "title": f"Biên bản hội chẩn số {minutes.number}: {c.title}"
        if minutes.number
        else f"Biên bản hội chẩn: {c.title}",
        "custodian": r.ref(c.host_facility_id),
        "section": sections,
    }
    if final and minutes.finalized_by in role_of_user and minutes.finalized_at:
        data["attester"] = [
            {
                "mode": "legal",
                "time": minutes.finalized_at.isoformat(),
                "party": r.ref(role_of_user[minutes.finalized_by].id),
            }
        ]
    return data
