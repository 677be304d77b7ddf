"""A person's notifications: creating them (with the e-mail when wanted), reading, marking
read, and the choices of each person (e-mail per kind, language).

What to say for each event is ``notify_events``; sending the e-mails is ``mail_outbox``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..actor import Actor
from ..errors import Invalid, NotFound
from ..messages import Message, msg
from ..models import (
    EMAIL_BY_DEFAULT,
    EmailOutbox,
    Notification,
    NotificationKind,
    NotificationPreference,
    User,
)
from ..models.base import utcnow
from . import Page, clamp_page

LANGUAGES = ("vi", "en")


def reference(object_id: uuid.UUID, prefix: str = "HC") -> str:
    """A short reference to read out: ``HC-1A2B3C4D`` (a consultation), ``HS-…`` (a case)."""
    return f"{prefix}-{object_id.hex[:8].upper()}"


@dataclass(frozen=True, slots=True)
class Draft:
    """One notification to create: what to say, about what, to whom."""

    kind: NotificationKind
    message: Message
    consultation_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    thread_message_id: uuid.UUID | None = None
    emergency: bool = False


def text_of(notification: Notification) -> Message:
    """What a notification says, for an edge to translate."""
    return msg(notification.message, **dict(notification.params))


async def email_choices(session: AsyncSession, user_id: uuid.UUID) -> dict[NotificationKind, bool]:
    """Whether each kind goes out by e-mail too for this person (their choice, else the default)."""
    chosen = {
        row.kind: row.email
        for row in (
            await session.execute(
                select(NotificationPreference).where(NotificationPreference.user_id == user_id)
            )
        )
        .scalars()
        .all()
    }
    return {kind: chosen.get(kind, kind in EMAIL_BY_DEFAULT) for kind in NotificationKind}


async def create(
    session: AsyncSession,
    *,
    draft: Draft,
    recipients: Iterable[uuid.UUID],
    default_language: str = "vi",
    email: bool = True,
) -> list[Notification]:
    """Add one notification per active recipient, and its e-mail when they want it and the
    server sends e-mail (``email``); no commit."""
    wanted = list(dict.fromkeys(recipients))
    if not wanted:
        return []
    users = (
        (
            await session.execute(
                select(User).where(col(User.id).in_(wanted), col(User.active).is_(True))
            )
        )
        .scalars()
        .all()
    )
    created: list[Notification] = []
    for user in users:
        notification = Notification(
            user_id=user.id,
            kind=draft.kind,
            message=draft.message.msgid,
            params={k: str(v) for k, v in draft.message.params.items()},
            consultation_id=draft.consultation_id,
            case_id=draft.case_id,
            thread_message_id=draft.thread_message_id,
            emergency=draft.emergency,
        )
        session.add(notification)
        created.append(notification)
        if email and user.email and (await email_choices(session, user.id))[draft.kind]:
            session.add(
                EmailOutbox(
                    notification_id=notification.id,
                    to_address=user.email,
                    language=user.language or default_language,
                )
            )
    return created


async def list_for(
    *,
    session: AsyncSession,
    actor: Actor,
    unread_only: bool = False,
    limit: int | None = None,
    offset: int | None = None,
) -> Page[Notification]:
    """The actor's own notifications, newest first."""
    lim, off = clamp_page(limit, offset)
    where: list[Any] = [Notification.user_id == actor.user_id]
    if unread_only:
        where.append(col(Notification.read_at).is_(None))
    total = (
        await session.execute(select(sa.func.count()).select_from(Notification).where(*where))
    ).scalar_one()
    rows = await session.execute(
        select(Notification)
        .where(*where)
        .order_by(col(Notification.created_at).desc(), col(Notification.id))
        .limit(lim)
        .offset(off)
    )
    return Page(items=list(rows.scalars().all()), total=int(total), limit=lim, offset=off)


async def unread_count(*, session: AsyncSession, actor: Actor) -> int:
    """How many of the actor's notifications are unread (the bell's number)."""
    if actor.user_id is None:
        return 0
    return int(
        (
            await session.execute(
                select(sa.func.count())
                .select_from(Notification)
                .where(Notification.user_id == actor.user_id, col(Notification.read_at).is_(None))
            )
        ).scalar_one()
    )


async def get_own(
    *, session: AsyncSession, actor: Actor, notification_id: uuid.UUID
) -> Notification:
    """One of the actor's notifications; NotFound for anyone else's."""
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.user_id != actor.user_id:
        raise NotFound(msg("Không tìm thấy thông báo"))
    return notification


async def mark_read(
    *, session: AsyncSession, actor: Actor, notification_id: uuid.UUID | None = None
) -> int:
    """Mark one of the actor's notifications read (or all of them, without an id)."""
    where: list[Any] = [Notification.user_id == actor.user_id, col(Notification.read_at).is_(None)]
    if notification_id is not None:
        await get_own(session=session, actor=actor, notification_id=notification_id)
        where.append(Notification.id == notification_id)
    done = await session.execute(sa.update(Notification).where(*where).values(read_at=utcnow()))
    await session.commit()
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


async def set_choices(
    *,
    session: AsyncSession,
    actor: Actor,
    email: Mapping[str, bool],
    language: str | None,
) -> None:
    """Save the actor's e-mail choice for every kind, and their language (None: the server's)."""
    if actor.user_id is None:
        raise NotFound(msg("Không tìm thấy người dùng"))
    if language is not None and language not in LANGUAGES:
        problem = msg("Ngôn ngữ không được hỗ trợ")
        raise Invalid(problem, fields={"language": problem})
    unknown = set(email) - {str(k) for k in NotificationKind}
    if unknown:
        raise Invalid(msg("Loại thông báo không hợp lệ"))
    await session.execute(
        sa.delete(NotificationPreference).where(
            col(NotificationPreference.user_id) == actor.user_id
        )
    )
    for kind in NotificationKind:
        session.add(
            NotificationPreference(
                user_id=actor.user_id, kind=kind, email=bool(email.get(kind, False))
            )
        )
    user = await session.get(User, actor.user_id)
    if user is not None:
        user.language = language
        session.add(user)
    await session.commit()
