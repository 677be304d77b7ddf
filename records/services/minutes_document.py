"""The minutes as a document: everything the form prints, gathered once for the page and the PDF."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..models import Case, Consultation, Facility, Minutes, MinutesStatus, User
from ..models.base import utcnow
from . import minutes_form as form

# Printed when a facility has no governing body on record.
DEFAULT_GOVERNING_BODY = "BỘ Y TẾ"


@dataclass(frozen=True, slots=True)
class Signer:
    """A person who signs a block of the form."""

    user_id: uuid.UUID
    name: str
    full_name: str
    title: str
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class MinutesDocument:
    """What the form shows, in its order (Thông tư 49/2017/TT-BYT, Phụ lục I)."""

    minutes: Minutes
    consultation: Consultation
    case: Case
    governing_body: str
    facility_name: str
    # Where the form says it was written ("Bình Phước, ngày … tháng … năm …").
    locality: str
    number: str | None
    dated: datetime
    chair: Signer | None
    secretary: Signer | None
    members: list[dict[str, Any]] = field(default_factory=list)
    guests: list[dict[str, Any]] = field(default_factory=list)
    patient: dict[str, Any] = field(default_factory=dict)
    versions: list[Minutes] = field(default_factory=list)

    @property
    def final(self) -> bool:
        """Whether the minutes are final (and so immutable)."""
        return self.minutes.status == MinutesStatus.final

    @property
    def chair_is_secretary(self) -> bool:
        """Whether the chair also keeps the minutes (no secretary was named)."""
        return (
            self.chair is not None
            and self.secretary is not None
            and self.chair.user_id == self.secretary.user_id
        )


def locality(address: str | None) -> str:
    """The province or city of an address, as a form's place-and-date line names it."""
    if not address:
        return ""
    last = address.split(",")[-1].strip()
    for prefix in ("tỉnh ", "Tỉnh "):
        if last.startswith(prefix):
            return last[len(prefix) :]
    return last


async def _signer(
    session: AsyncSession, user_id: uuid.UUID | None, confirmed_at: datetime | None
) -> Signer | None:
    user = await session.get(User, user_id) if user_id is not None else None
    if user is None:
        return None
    return Signer(user.id, user.display_name, user.full_name, user.title, confirmed_at)


async def build(session: AsyncSession, minutes: Minutes) -> MinutesDocument:
    """The document of a set of minutes; the caller has checked the reader's access."""
    consultation = await session.get(Consultation, minutes.consultation_id)
    case = await session.get(Case, minutes.case_id)
    assert consultation is not None and case is not None  # foreign keys
    host = await session.get(Facility, minutes.facility_id or consultation.host_facility_id)
    final = minutes.status == MinutesStatus.final
    secretary_id = minutes.secretary_id or await form.secretary_id(session, consultation)
    versions = (
        (
            await session.execute(
                select(Minutes)
                .where(
                    Minutes.consultation_id == minutes.consultation_id,
                    Minutes.case_id == minutes.case_id,
                )
                .order_by(col(Minutes.version))
            )
        )
        .scalars()
        .all()
    )
    return MinutesDocument(
        minutes=minutes,
        consultation=consultation,
        case=case,
        governing_body=(host.governing_body if host else None) or DEFAULT_GOVERNING_BODY,
        facility_name=host.name if host else "",
        locality=locality(host.address if host else None) or (host.name if host else ""),
        number=minutes.number,
        dated=minutes.finalized_at or utcnow(),
        chair=await _signer(session, consultation.chair_id, minutes.chair_confirmed_at),
        secretary=await _signer(session, secretary_id, minutes.secretary_confirmed_at),
        members=[a for a in minutes.attendees if not a.get("guest")],
        guests=[a for a in minutes.attendees if a.get("guest")],
        # Final minutes print the patient as they stood when signed; a draft, as they stand.
        patient=minutes.patient_block if final else await form.patient_block(session, case),
        versions=list(versions),
    )
