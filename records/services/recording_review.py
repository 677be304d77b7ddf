"""Reviewing a session's recordings: each participant's file placed on the session's clock,
named by participant and time, and the consent decisions beside them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access
from ..actor import Actor
from ..localtime import LOCAL_TZ
from ..models import Attachment, RecordingConsent, User
from ..text import fold

_UNSAFE = re.compile(r"[^a-z0-9]+")


def recording_filename(name: str, started: datetime | None, ext: str) -> str:
    """A download name that says whose recording it is and when it began, in plain ASCII (no
    control or bidirectional characters can survive it), e.g.
    ``ghi-hinh-le-thi-hoa-20261207-121503.mp4``."""
    slug = _UNSAFE.sub("-", fold(name)).strip("-")[:60].strip("-") or "nguoi-tham-du"
    when = f"-{started.astimezone(LOCAL_TZ):%Y%m%d-%H%M%S}" if started else ""
    return f"ghi-hinh-{slug}{when}{ext}"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass(frozen=True, slots=True)
class ReviewedRecording:
    """One participant's recording on the session's clock."""

    attachment: Attachment
    participant: str
    started: datetime | None
    # Seconds from the first recording's start to this one's.
    offset: float
    duration: float | None
    download_name: str


def place(recordings: list[Attachment]) -> list[ReviewedRecording]:
    """Put recordings on one clock (the earliest start is 0), earliest first."""
    starts = [_time((a.meta or {}).get("started")) for a in recordings]
    known = [s for s in starts if s is not None]
    zero = min(known) if known else None
    out = []
    for a, started in zip(recordings, starts, strict=True):
        meta = a.meta or {}
        who = meta.get("participant")
        name = str(who.get("name", "")) if isinstance(who, dict) else ""
        duration = meta.get("duration")
        ext = "." + a.filename.rsplit(".", 1)[-1] if "." in a.filename else ""
        out.append(
            ReviewedRecording(
                attachment=a,
                participant=name,
                started=started,
                offset=(started - zero).total_seconds() if started and zero else 0.0,
                duration=float(duration) if isinstance(duration, int | float) else None,
                download_name=recording_filename(name, started, ext),
            )
        )
    return sorted(out, key=lambda r: (r.offset, r.participant))


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    """Who agreed or declined to be recorded, and when."""

    name: str
    accept: bool
    at: datetime


async def consent_decisions(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> list[ConsentDecision]:
    """Every recording consent decision of a session, oldest first (404 when not visible)."""
    await access.require_consultation(session=session, actor=actor, consultation_id=consultation_id)
    rows = await session.execute(
        select(RecordingConsent, User)
        .join(User, col(User.id) == RecordingConsent.user_id)
        .where(RecordingConsent.consultation_id == consultation_id)
        .order_by(col(RecordingConsent.at), col(RecordingConsent.id))
    )
    return [ConsentDecision(name=u.display_name, accept=c.accept, at=c.at) for c, u in rows.all()]
