"""Sending the e-mails of the outbox: a background task of the application that claims due
e-mails (never two processes the same one), sends them with aiosmtplib and retries failures
with an exponential backoff. A request that causes an e-mail never waits for the SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

import aiosmtplib
from aiohttp import web

from records.db import SessionMaker
from records.models.base import utcnow
from records.services import mail_outbox
from records.services.mail_outbox import Backoff
from web.i18n import translations_key
from web.notify_text import email_for

from .settings import Settings

log = logging.getLogger(__name__)

# Another process may have queued e-mails: look at the outbox at least this often.
IDLE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to hand e-mails over."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    security: str = "starttls"
    timeout: float = 20.0

    @classmethod
    def of(cls, settings: Settings) -> SmtpConfig | None:
        """The SMTP settings, None when e-mail is not configured."""
        if not settings.smtp_host or not settings.smtp_from:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            security=settings.smtp_security,
            timeout=settings.smtp_timeout_seconds,
        )


class MailSender:
    """The outbox's worker: `wake()` after queuing, `run()` until cancelled."""

    def __init__(
        self,
        app: web.Application,
        *,
        sessions: SessionMaker,
        smtp: SmtpConfig,
        backoff: Backoff,
        base_url: str,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.smtp = smtp
        self.backoff = backoff
        self.base_url = base_url
        self._wake = asyncio.Event()
        # Since the process started, for the metrics.
        self.sent_total = 0
        self.failed_total = 0

    def wake(self) -> None:
        """Look at the outbox now (something was queued)."""
        self._wake.set()

    async def run(self) -> None:
        """Send what is due, then sleep until the next due time, a wake-up or the idle check."""
        while True:
            self._wake.clear()
            try:
                await self.send_due()
                async with self.sessions() as session:
                    due = await mail_outbox.next_due(session=session)
            except Exception:
                log.exception("the e-mail outbox failed; trying again shortly")
                due = None
            wait = IDLE_SECONDS
            if due is not None:
                wait = max(0.0, min(wait, (due - utcnow()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def send_due(self) -> int:
        """Send every due e-mail once; the number sent."""
        sent = 0
        while True:
            async with self.sessions() as session:
                batch = await mail_outbox.claim_due(session=session)
            if not batch:
                return sent
            for mail, notification in batch:
                token = mail.lock_token or ""
                try:
                    message = email_for(
                        app=self.app,
                        translations=self.app[translations_key],
                        notification=notification,
                        lang=mail.language,
                        to=mail.to_address,
                        sender=self.smtp.sender,
                        base_url=self.base_url,
                    )
                    await self._deliver(message)
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    self.failed_total += 1
                    async with self.sessions() as session:
                        retry = await mail_outbox.mark_failed(
                            session=session,
                            mail_id=mail.id,
                            token=token,
                            error=repr(exc),
                            backoff=self.backoff,
                        )
                    log.warning(
                        "e-mail to %s failed (%r); retry at %s", mail.to_address, exc, retry
                    )
                    continue
                async with self.sessions() as session:
                    await mail_outbox.mark_sent(session=session, mail_id=mail.id, token=token)
                sent += 1
                self.sent_total += 1

    async def _deliver(self, message: EmailMessage) -> None:
        smtp = self.smtp
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.security == "tls",
            start_tls=True if smtp.security == "starttls" else False,
            timeout=smtp.timeout,
        )


def backoff_of(settings: Settings) -> Backoff:
    """The retry schedule the settings ask for."""
    return Backoff(
        base=timedelta(seconds=settings.mail_retry_seconds),
        max_attempts=settings.mail_max_attempts,
    )
