"""The closed vocabularies of the domain."""

from __future__ import annotations

from enum import StrEnum


class FacilityLevel(StrEnum):
    """Where a facility stands on the referral line."""

    commune = "commune"
    district = "district"
    provincial = "provincial"
    central = "central"

    @property
    def rank(self) -> int:
        """Higher is further up the referral line."""
        return list(FacilityLevel).index(self)


class Role(StrEnum):
    """What a user does in the system."""

    admin = "admin"
    coordinator = "coordinator"
    doctor = "doctor"
    specialist = "specialist"


class Sex(StrEnum):
    """Sex as recorded on the medical record."""

    male = "male"
    female = "female"
    other = "other"


class Urgency(StrEnum):
    """How soon the case needs an answer."""

    routine = "routine"
    urgent = "urgent"
    emergency = "emergency"


class CaseStatus(StrEnum):
    """The life of a case file."""

    draft = "draft"
    submitted = "submitted"
    scheduled = "scheduled"
    discussed = "discussed"
    closed = "closed"


class AttachmentKind(StrEnum):
    """What an attached file is."""

    lab = "lab"
    imaging = "imaging"
    dicom = "dicom"
    document = "document"
    photo = "photo"
    recording = "recording"


class ConsultationStatus(StrEnum):
    """The life of a consultation session."""

    requested = "requested"
    scheduled = "scheduled"
    live = "live"
    ended = "ended"
    cancelled = "cancelled"


class ParticipantRole(StrEnum):
    """A person's part in one session."""

    chair = "chair"
    presenter = "presenter"
    specialist = "specialist"
    observer = "observer"
    # Keeps the minutes and co-signs them; without one, the chair acts as secretary.
    secretary = "secretary"


class InvitationResponse(StrEnum):
    """An invitee's answer to an invitation."""

    pending = "pending"
    accepted = "accepted"
    declined = "declined"


class MinutesStatus(StrEnum):
    """Minutes are drafted, then made final (and immutable)."""

    draft = "draft"
    final = "final"


# Allowed case status transitions; anything else is refused.
CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.draft: frozenset({CaseStatus.submitted}),
    CaseStatus.submitted: frozenset({CaseStatus.draft, CaseStatus.scheduled, CaseStatus.closed}),
    CaseStatus.scheduled: frozenset({CaseStatus.submitted, CaseStatus.discussed}),
    CaseStatus.discussed: frozenset({CaseStatus.scheduled, CaseStatus.closed}),
    CaseStatus.closed: frozenset(),
}

CONSULTATION_TRANSITIONS: dict[ConsultationStatus, frozenset[ConsultationStatus]] = {
    ConsultationStatus.requested: frozenset(
        {ConsultationStatus.scheduled, ConsultationStatus.cancelled}
    ),
    ConsultationStatus.scheduled: frozenset(
        {ConsultationStatus.live, ConsultationStatus.ended, ConsultationStatus.cancelled}
    ),
    # A session under way may still be called off (the room ends for everyone).
    ConsultationStatus.live: frozenset({ConsultationStatus.ended, ConsultationStatus.cancelled}),
    ConsultationStatus.ended: frozenset(),
    ConsultationStatus.cancelled: frozenset(),
}
