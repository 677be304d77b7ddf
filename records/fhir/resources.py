"""FHIR resources built from the records, one function each, every one validated by
``fhir.resources`` (R4B, 4.3.0: the resources used here have R4's shape; see docs/fhir.md).

Pure functions of the models: no database, no HTTP. References point at other entries of the
same document Bundle by their ``urn:uuid:`` full URLs.
"""

from __future__ import annotations

import base64
import html
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.composition import Composition
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.imagingstudy import ImagingStudy
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest

from ..models import (
    Attachment,
    AttachmentKind,
    Case,
    Consultation,
    ConsultationStatus,
    Facility,
    Patient,
    User,
)

# Where ids of derived resources come from: stable for one record, distinct per resource type.
NAMESPACE = uuid.UUID("6f1d0c1e-3b7a-5d2e-9a41-7e5c0f8b2d11")
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LOINC = "http://loinc.org"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
BHYT_SYSTEM = "urn:telemed:bhyt"
FACILITY_CODE_SYSTEM = "urn:telemed:facility-code"


def derived_id(kind: str, *parts: object) -> str:
    """A stable id for a resource derived from records (kind and the records' ids)."""
    return str(uuid.uuid5(NAMESPACE, "/".join([kind, *map(str, parts)])))


def ref(resource_id: object) -> dict[str, str]:
    """A reference to another entry of the Bundle."""
    return {"reference": f"urn:uuid:{resource_id}"}


def narrative(*paragraphs: str) -> dict[str, str]:
    """A generated XHTML narrative of plain text paragraphs (line breaks kept)."""
    body = "".join(
        "<p>" + "<br/>".join(html.escape(line) for line in text.splitlines()) + "</p>"
        for text in paragraphs
        if text.strip()
    )
    return {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body or "<p>-</p>"}</div>',
    }


def instant(moment: datetime | None) -> str | None:
    """A FHIR instant (ISO 8601 with offset)."""
    return moment.isoformat() if moment is not None else None


def _name(full_name: str, prefix: str = "") -> dict[str, Any]:
    # Vietnamese names are written family name first: "Nguyễn Thị Lan".
    words = full_name.split()
    out: dict[str, Any] = {"use": "official", "text": f"{prefix} {full_name}".strip()}
    if words:
        out["family"] = words[0]
    if len(words) > 1:
        out["given"] = words[1:]
    if prefix:
        out["prefix"] = [prefix]
    return out


def organization(facility: Facility, level_label: str) -> Organization:
    """A facility of the referral line."""
    return Organization.model_validate(
        {
            "resourceType": "Organization",
            "id": str(facility.id),
            "identifier": [{"system": FACILITY_CODE_SYSTEM, "value": facility.code}],
            "active": True,
            "type": [{"text": level_label}],
            "name": facility.name,
        }
    )


def patient(p: Patient) -> FhirPatient:
    """The patient, identified by the facility's record number and the insurance card."""
    identifiers: list[dict[str, Any]] = [
        {
            "use": "usual",
            "type": {"text": "Mã bệnh nhân"},
            "system": f"urn:uuid:{p.facility_id}",
            "value": p.mrn,
            "assigner": ref(p.facility_id),
        }
    ]
    if p.insurance_number:
        identifiers.append(
            {"type": {"text": "Số thẻ BHYT"}, "system": BHYT_SYSTEM, "value": p.insurance_number}
        )
    born = (
        p.birth_date.isoformat() if p.birth_date else (str(p.birth_year) if p.birth_year else None)
    )
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(p.id),
        "identifier": identifiers,
        "name": [_name(p.full_name)],
        "gender": str(p.sex) if str(p.sex) in ("male", "female", "other") else "unknown",
        "managingOrganization": ref(p.facility_id),
    }
    if born:
        data["birthDate"] = born
    if p.address:
        data["address"] = [{"text": p.address, "country": "VN"}]
    if p.phone:
        data["telecom"] = [{"system": "phone", "value": p.phone}]
    return FhirPatient.model_validate(data)


def practitioner(user: User) -> Practitioner:
    """A person of the consultation."""
    return Practitioner.model_validate(
        {
            "resourceType": "Practitioner",
            "id": str(user.id),
            "active": user.active,
            "name": [_name(user.full_name, user.title or "")],
        }
    )


def practitioner_role(
    user: User, consultation: Consultation, role_label: str | None
) -> PractitionerRole:
    """A person in their part of this consultation, at their facility."""
    data: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": derived_id("practitioner-role", consultation.id, user.id),
        "active": True,
        "practitioner": ref(user.id),
        "organization": ref(user.facility_id),
    }
    if role_label:
        data["code"] = [{"text": role_label}]
    if user.specialty:
        data["specialty"] = [{"text": user.specialty}]
    return PractitionerRole.model_validate(data)


_REQUEST_STATUS = {
    ConsultationStatus.requested: "active",
    ConsultationStatus.scheduled: "active",
    ConsultationStatus.live: "active",
    ConsultationStatus.ended: "completed",
    ConsultationStatus.cancelled: "revoked",
}
_APPOINTMENT_STATUS = {
    ConsultationStatus.requested: "proposed",
    ConsultationStatus.scheduled: "booked",
    ConsultationStatus.live: "arrived",
    ConsultationStatus.ended: "fulfilled",
    ConsultationStatus.cancelled: "cancelled",
}
_ENCOUNTER_STATUS = {
    ConsultationStatus.requested: "planned",
    ConsultationStatus.scheduled: "planned",
    ConsultationStatus.live: "in-progress",
    ConsultationStatus.ended: "finished",
    ConsultationStatus.cancelled: "cancelled",
}
_ANSWER_STATUS = {"accepted": "accepted", "declined": "declined", "pending": "needs-action"}


def service_request(
    c: Consultation, case: Case, requester_role_id: str, documents: Sequence[str]
) -> ServiceRequest:
    """The request for the consultation, from the requesting doctor to the host facility."""
    data: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": derived_id("service-request", c.id, case.id),
        "status": _REQUEST_STATUS[ConsultationStatus(c.status)],
        "intent": "order",
        "category": [{"text": "Hội chẩn từ xa"}],
        "code": {"text": c.title},
        "subject": ref(case.patient_id),
        "authoredOn": instant(c.created_at),
        "requester": ref(requester_role_id),
        "performer": [ref(c.host_facility_id)],
        "priority": {"routine": "routine", "urgent": "urgent", "emergency": "stat"}[
            str(case.urgency)
        ],
    }
    if case.question.strip():
        data["reasonCode"] = [{"text": case.question.strip()}]
    if c.note.strip():
        data["note"] = [{"text": c.note.strip()}]
    if c.scheduled_start is not None:
        data["occurrenceDateTime"] = instant(c.scheduled_start)
    if documents:
        data["supportingInfo"] = [ref(d) for d in documents]
    return ServiceRequest.model_validate(data)


def appointment(
    c: Consultation,
    case: Case,
    request_id: str,
    invited: Sequence[tuple[str, str]],
) -> Appointment:
    """The session's time and who was invited (``invited``: role ids and their answers)."""
    data: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": derived_id("appointment", c.id, case.id),
        "status": _APPOINTMENT_STATUS[ConsultationStatus(c.status)],
        "description": c.title,
        "basedOn": [ref(request_id)],
        "created": instant(c.created_at),
        "participant": [
            {"actor": ref(role_id), "required": "required", "status": _ANSWER_STATUS[answer]}
            for role_id, answer in invited
        ],
    }
    if c.scheduled_start is not None and c.scheduled_end is not None:
        data["start"] = instant(c.scheduled_start)
        data["end"] = instant(c.scheduled_end)
    return Appointment.model_validate(data)


def encounter(
    c: Consultation,
    case: Case,
    appointment_id: str,
    request_id: str,
    present: Sequence[tuple[str, datetime, datetime | None]],
) -> Encounter:
    """The session itself, a virtual encounter; each stay of each person is a participant."""
    data: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": derived_id("encounter", c.id, case.id),
        "status": _ENCOUNTER_STATUS[ConsultationStatus(c.status)],
        "class": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
        "type": [{"text": "Hội chẩn từ xa"}],
        "subject": ref(case.patient_id),
        "basedOn": [ref(request_id)],
        "appointment": [ref(appointment_id)],
        "serviceProvider": ref(c.host_facility_id),
        "participant": [
            {"individual": ref(role_id), "period": _period(start, end)}
            for role_id, start, end in present
        ],
    }
    period = _period(c.started_at, c.ended_at)
    if period:
        data["period"] = period
    return Encounter.model_validate(data)


def _period(start: datetime | None, end: datetime | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if start is not None:
        out["start"] = start.isoformat()
    if end is not None:
        out["end"] = end.isoformat()
    return out


def condition(
    minutes_id: uuid.UUID, patient_id: uuid.UUID, encounter_id: str, text: str, icd10: str
) -> Condition:
    """The diagnosis the consultation concluded, with its ICD-10 code."""
    return Condition.model_validate(
        {
            "resourceType": "Condition",
            "id": derived_id("condition", minutes_id),
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": ICD10, "code": icd10}], "text": text or icd10},
            "subject": ref(patient_id),
            "encounter": ref(encounter_id),
        }
    )


def sha256_identifier(hex_digest: str) -> dict[str, str]:
    """A file's SHA-256 as a named-information URI (RFC 6920)."""
    digest = base64.urlsafe_b64encode(bytes.fromhex(hex_digest)).decode().rstrip("=")
    return {"system": "urn:ietf:rfc:3986", "value": f"ni:///sha-256;{digest}"}


def document_reference(
    a: Attachment,
    patient_id: uuid.UUID,
    encounter_id: str | None,
    kind_label: str,
    url: Callable[[Attachment], str],
    author_included: bool,
) -> DocumentReference:
    """An attached file (lab report, image, recording, the minutes' PDF) by reference."""
    data: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": str(a.id),
        "identifier": [sha256_identifier(a.sha256)],
        "status": "current",
        "type": {"text": kind_label},
        "subject": ref(patient_id),
        "date": instant(a.uploaded_at),
        "description": a.description or a.filename,
        "content": [
            {
                "attachment": {
                    "contentType": a.content_type,
                    "url": url(a),
                    "size": a.size,
                    "title": a.filename,
                    "creation": instant(a.uploaded_at),
                }
            }
        ],
    }
    if author_included and a.uploaded_by is not None:
        data["author"] = [ref(a.uploaded_by)]
    if encounter_id is not None and a.kind == AttachmentKind.recording:
        data["context"] = {"encounter": [ref(encounter_id)]}
    return DocumentReference.model_validate(data)


def imaging_study(a: Attachment, patient_id: uuid.UUID, encounter_id: str | None) -> ImagingStudy:
    """A DICOM study attached to the case, from the tags kept at upload."""
    meta = a.meta or {}
    data: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": derived_id("imaging-study", a.id),
        "status": "available",
        "subject": ref(patient_id),
        "numberOfInstances": 1,
        "note": [{"text": f"Tệp {a.filename} (DocumentReference {a.id})"}],
    }
    uid = meta.get("study_instance_uid") or meta.get("study_uid")
    if isinstance(uid, str) and uid:
        data["identifier"] = [{"system": "urn:dicom:uid", "value": f"urn:oid:{uid}"}]
    modality = meta.get("modality")
    if isinstance(modality, str) and modality:
        data["modality"] = [{"system": DICOM, "code": modality}]
    if isinstance(meta.get("study_date"), str) and len(meta["study_date"]) == 10:
        data["started"] = meta["study_date"]
    description = meta.get("study_description") or meta.get("body_part")
    if isinstance(description, str) and description:
        data["description"] = description
    if encounter_id is not None:
        data["encounter"] = ref(encounter_id)
    return ImagingStudy.model_validate(data)


def composition(data: dict[str, Any]) -> Composition:
    """The minutes as a FHIR document's Composition (built by the caller, validated here)."""
    return Composition.model_validate({"resourceType": "Composition", **data})


def entry(resource: Resource) -> dict[str, Any]:
    """A Bundle entry with the resource's urn:uuid full URL."""
    return {"fullUrl": f"urn:uuid:{resource.id}", "resource": resource}
