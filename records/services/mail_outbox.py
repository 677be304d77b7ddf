"""The e-mail outbox: claiming due e-mails (safely with several processes), and marking them
sent, or failed with a retry after an exponential backoff."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..models import EmailOutbox, Notification
from ..models.base import utcnow


@dataclass(frozen=True, slots=True)
class Backoff:
    """How failed deliveries are retried: ``base`` doubled each time, up to ``cap``."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        """The wait before the next try after ``attempts`` failures."""
        return min(self.cap, self.base * int(2 ** max(0, attempts - 1)))


def _due(now: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        col(EmailOutbox.sent_at).is_(None),
        col(EmailOutbox.failed_at).is_(None),
        col(EmailOutbox.next_attempt_at) <= now,
        sa.or_(col(EmailOutbox.locked_until).is_(None), col(EmailOutbox.locked_until) < now),
    ]


async def claim_due(
    *,
    session: AsyncSession,
    limit: int = 20,
    lease: timedelta = timedelta(minutes=2),
    now: datetime | None = None,
) -> list[tuple[EmailOutbox, Notification]]:
    """Take up to ``limit`` due e-mails for this sender for ``lease``; no other process gets
    them meanwhile (one UPDATE that re-checks the lock, on SQLite and PostgreSQL alike)."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    candidates = (
        select(EmailOutbox.id)
        .where(*_due(now))
        .order_by(col(EmailOutbox.next_attempt_at))
        .limit(limit)
        .scalar_subquery()
    )
    await session.execute(
        sa.update(EmailOutbox)
        .where(col(EmailOutbox.id).in_(candidates), *_due(now))
        .values(lock_token=token, locked_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    rows = await session.execute(
        select(EmailOutbox, Notification)
        .join(Notification, col(Notification.id) == EmailOutbox.notification_id)
        .where(EmailOutbox.lock_token == token)
        .order_by(col(EmailOutbox.next_attempt_at))
    )
    claimed = [(mail, notification) for mail, notification in rows.all()]
    await session.commit()
    return claimed


async def mark_sent(*, session: AsyncSession, mail_id: uuid.UUID, token: str) -> None:
    """The e-mail went out."""
    await session.execute(
        sa.update(EmailOutbox)
        .where(col(EmailOutbox.id) == mail_id, col(EmailOutbox.lock_token) == token)
        .values(sent_at=utcnow(), locked_until=None, last_error="")
    )
    await session.commit()


async def mark_failed(
    *,
    session: AsyncSession,
    mail_id: uuid.UUID,
    token: str,
    error: str,
    backoff: Backoff,
    now: datetime | None = None,
) -> datetime | None:
    """Delivery failed: try again after the backoff (None when it gave up for good)."""
    now = now or utcnow()
    mail = await session.get(EmailOutbox, mail_id)
    if mail is None or mail.lock_token != token:
        await session.commit()
        return None
    mail.attempts += 1
    mail.last_error = error[:500]
    mail.locked_until = None
    retry: datetime | None = None
    if mail.attempts >= backoff.max_attempts:
        mail.failed_at = now
    else:
        retry = mail.next_attempt_at = now + backoff.delay(mail.attempts)
    session.add(mail)
    await session.commit()
    return retry


async def next_due(*, session: AsyncSession) -> datetime | None:
    """When the next waiting e-mail is due (None when nothing waits)."""
    value = (
        await session.execute(
            select(sa.func.min(EmailOutbox.next_attempt_at)).where(
                col(EmailOutbox.sent_at).is_(None), col(EmailOutbox.failed_at).is_(None)
            )
        )
    ).scalar_one()
    await session.commit()
    return value if isinstance(value, datetime) else None
