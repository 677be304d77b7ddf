"""Case files (hồ sơ hội chẩn): create, edit while open, read (audited), status machine, history."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Conflict, Invalid
from ..messages import N_, msg
from ..models import (
    CASE_TRANSITIONS,
    Case,
    CaseCreate,
    CaseEvent,
    CaseStatus,
    CaseUpdate,
    Urgency,
)
from ..models.base import utcnow
from ..vocabulary import label
from . import Page, clamp_page
from .changes import refuse_nulls
from .patients import like_escape

EDITABLE = frozenset({CaseStatus.draft, CaseStatus.submitted})


def add_event(
    session: AsyncSession, *, case: Case, actor: Actor, action: str, detail: str = ""
) -> CaseEvent:
    """Add a history entry to a case (no commit)."""
    event = CaseEvent(case_id=case.id, actor_id=actor.user_id, action=action, detail=detail[:500])
    session.add(event)
    return event


async def apply_transition(
    session: AsyncSession, *, case: Case, to: CaseStatus, actor: Actor, note: str = ""
) -> None:
    """Move a case to a new status if the machine allows it (no commit); else Conflict."""
    current = CaseStatus(case.status)
    if to not in CASE_TRANSITIONS[current]:
        raise Conflict(
            msg(
                "Không thể chuyển hồ sơ từ trạng thái «%(current)s» sang «%(to)s»",
                current=label(current),
                to=label(to),
            )
        )
    case.status = to
    case.updated_at = utcnow()
    session.add(case)
    add_event(session, case=case, actor=actor, action="status", detail=f"{current}→{to} {note}")
    await audit.record(
        session,
        actor=actor,
        action="status",
        object_type="case",
        object_id=case.id,
        patient_id=case.patient_id,
        detail={"from": current, "to": to},
    )


async def create_case(
    *, session: AsyncSession, data: CaseCreate, actor: Actor, author_id: uuid.UUID | None = None
) -> Case:
    """Open a case file for a patient the actor may write; it belongs to the patient's facility."""
    data = CaseCreate.model_validate(data.model_dump())
    patient = await access.require_patient(
        session=session, actor=actor, patient_id=data.patient_id, write=True
    )
    author = actor.user_id or author_id
    if author is None:
        raise Invalid(msg("Hồ sơ cần có bác sĩ lập"), fields={"author_id": msg("Bắt buộc")})
    case = Case.model_validate(
        data, update={"facility_id": patient.facility_id, "author_id": author}
    )
    session.add(case)
    add_event(session, case=case, actor=actor, action="created")
    await audit.record(
        session,
        actor=actor,
        action="create",
        object_type="case",
        object_id=case.id,
        patient_id=case.patient_id,
    )
    await session.commit()
    return case


async def update_case(
    *, session: AsyncSession, case_id: uuid.UUID, data: CaseUpdate, actor: Actor
) -> Case:
    """Edit a case's clinical summary while it is a draft or submitted."""
    data = CaseUpdate.model_validate(data.model_dump(exclude_unset=True))
    case = await access.require_case(session=session, actor=actor, case_id=case_id, write=True)
    if case.status not in EDITABLE:
        raise Conflict(
            msg(
                "Hồ sơ ở trạng thái «%(status)s», không thể sửa",
                status=label(CaseStatus(case.status)),
            )
        )
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(Case, changes)
    for key, value in changes.items():
        setattr(case, key, value)
    case.updated_at = utcnow()
    session.add(case)
    add_event(session, case=case, actor=actor, action="updated", detail=", ".join(sorted(changes)))
    await audit.record(
        session,
        actor=actor,
        action="update",
        object_type="case",
        object_id=case.id,
        patient_id=case.patient_id,
        detail={"fields": sorted(changes)},
    )
    await session.commit()
    return case


async def get_case(
    *, session: AsyncSession, case_id: uuid.UUID, actor: Actor, write: bool = False
) -> Case:
    """One case (that the actor may also edit, when asked); the read is audited."""
    case = await access.require_case(session=session, actor=actor, case_id=case_id, write=write)
    await audit.record_now(
        session,
        actor=actor,
        action="view",
        object_type="case",
        object_id=case.id,
        patient_id=case.patient_id,
    )
    return case


async def transition(
    *, session: AsyncSession, case_id: uuid.UUID, to: CaseStatus, actor: Actor, note: str = ""
) -> Case:
    """Change a case's status along CASE_TRANSITIONS (doctors of its facility)."""
    case = await access.require_case(session=session, actor=actor, case_id=case_id, write=True)
    await apply_transition(session, case=case, to=CaseStatus(to), actor=actor, note=note)
    await session.commit()
    return case


async def history(*, session: AsyncSession, case_id: uuid.UUID, actor: Actor) -> list[CaseEvent]:
    """A case's history, oldest first; the read is audited."""
    case = await access.require_case(session=session, actor=actor, case_id=case_id)
    rows = await session.execute(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.at))
    )
    events = list(rows.scalars().all())
    await audit.record_reads(
        session,
        actor=actor,
        reads=[audit.Read("case", case.id, case.patient_id)],
        detail={"part": "history"},
    )
    return events


# How far past the page a case list counts its matches before it says "more than".
COUNT_BEYOND = 1000


def _recent() -> Any:
    """The case list's order: last changed first (ix_clinical_case_facility_recent)."""
    return sa.func.coalesce(col(Case.updated_at), col(Case.created_at))


BAD_CURSOR = N_("Vị trí trang không hợp lệ; hãy tải lại danh sách từ đầu")


def cursor_of(case: Case) -> str:
    """Where a page ends: the case's place in the list's order, as an opaque string."""
    recent = case.updated_at or case.created_at
    raw = f"{recent.astimezone(UTC).isoformat()}|{case.id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, ident = raw.partition("|")
        at = datetime.fromisoformat(moment)
        if at.tzinfo is None:
            raise ValueError(moment)
        return at, uuid.UUID(hex=ident)
    except ValueError:
        problem = msg(BAD_CURSOR)
        raise Invalid(problem, fields={"after": problem}) from None


async def _page_of_ids(
    session: AsyncSession, sources: list[Any], conds: list[Any], lim: int, off: int
) -> list[uuid.UUID]:
    """One page of the readable cases' ids, last changed first.

    Each reason to read a case is paged on its own, through its own index (a facility's cases
    through ix_clinical_case_facility_recent: the page's entries, not all of them), then the
    reasons' pages are merged. One OR of the reasons would make the database rank every
    readable case of the facility for each page.
    """
    recent = _recent()
    parts = [
        select(col(Case.id).label("id"), recent.label("recent"))
        .where(source, *conds)
        .order_by(recent.desc(), col(Case.id).desc())
        .limit(off + lim)
        .subquery()
        for source in sources
    ]
    chosen = [select(p.c.id, p.c.recent) for p in parts]
    merged = (sa.union(*chosen) if len(chosen) > 1 else chosen[0]).subquery()
    rows = await session.execute(
        select(merged.c.id)
        .order_by(merged.c.recent.desc(), merged.c.id.desc())
        .limit(lim)
        .offset(off)
    )
    return [r[0] for r in rows]


async def _count(session: AsyncSession, sources: list[Any], conds: list[Any], cap: int) -> int:
    """How many readable cases match, up to ``cap``: each reason counts the cases no earlier
    reason gave, and stops at the cap.

    The broadest reason (a facility's cases) is counted alone, through its index, and the
    narrow ones (invitations) without it; a count of the union would gather every id first.
    The cap keeps a centre with a hundred thousand cases from counting them all for each page
    (on PostgreSQL right after a bulk load, before vacuum, each counted entry reads its row).
    """
    parts = [
        select(sa.func.count())
        .select_from(
            select(sa.literal(1))
            .select_from(Case)
            .where(source, *conds, *[sa.not_(earlier) for earlier in sources[:i]])
            .limit(cap)
            .subquery()
        )
        .scalar_subquery()
        for i, source in enumerate(sources)
    ]
    total = sum(parts[1:], parts[0]) if len(parts) > 1 else parts[0]
    return min(int((await session.execute(select(total))).scalar_one()), cap)


async def list_cases(
    *,
    session: AsyncSession,
    actor: Actor,
    status: CaseStatus | None = None,
    patient_id: uuid.UUID | None = None,
    urgency: Urgency | None = None,
    q: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    after: str | None = None,
) -> Page[Case]:
    """Cases the actor may see, most recently changed first; ``after`` (a page's
    ``next_after``) continues where that page ended, in place of ``offset``."""
    lim, off = clamp_page(limit, offset)
    conds: list[Any] = []
    here: list[Any] = []
    if after is not None:
        # Keyset paging: the cases after this one in the list's order, read from the index
        # where the last page ended (no offset to walk).
        at, last = _after(after)
        recent = _recent()
        here.append(sa.or_(recent < at, sa.and_(recent == at, col(Case.id) < last)))
        off = 0
    if status is not None:
        conds.append(Case.status == status)
    if patient_id is not None:
        conds.append(Case.patient_id == patient_id)
    if urgency is not None:
        conds.append(Case.urgency == urgency)
    if q and q.strip():
        conds.append(col(Case.title).ilike(f"%{like_escape(q.strip())}%", escape="\\"))
    sources = access.case_sources(actor, utcnow())
    # One more than the page: whether a next page exists, without counting to it.
    page_ids = await _page_of_ids(session, sources, conds + here, lim + 1, off)
    more, page_ids = len(page_ids) > lim, page_ids[:lim]
    cap = off + lim + COUNT_BEYOND
    # Counting one past the cap tells "exactly the cap" from "more than the cap".
    counted = await _count(session, sources, conds, cap + 1)
    total, exact = min(counted, cap), counted <= cap
    if not page_ids:
        return Page(items=[], total=total, limit=lim, offset=off, total_exact=exact)
    rows = (await session.execute(select(Case).where(col(Case.id).in_(page_ids)))).scalars()
    by_id = {c.id: c for c in rows}
    items = [by_id[i] for i in page_ids if i in by_id]
    await audit.record_reads(
        session,
        actor=actor,
        reads=[audit.Read("case", c.id, c.patient_id) for c in items],
        detail={"list": "cases"},
    )
    return Page(
        items=items,
        total=total,
        limit=lim,
        offset=off,
        total_exact=exact,
        next_after=cursor_of(items[-1]) if more and items else None,
    )
