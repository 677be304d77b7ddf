"""The workflow between the calls, wired: what the records announce becomes notifications
(pushed live to open pages, e-mailed through the outbox) and orders to the live rooms; the
reminder before each session and the notice of an overdue outcome; and the background
tasks' lifetime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from aiohttp import web

from records import events as ev
from records.db import SessionMaker
from records.models import Notification
from records.services import notify_events, outcomes
from signaling.server import get_registry
from web.push import LocalPush, PushHub, push_key

from .mail import MailSender, SmtpConfig, backoff_of
from .push import RedisPush
from .settings import Settings

log = logging.getLogger(__name__)

mailer_key = web.AppKey("mailer", MailSender)


class Notifier:
    """Turns each announced event into notifications, pushes them, and wakes the mailer."""

    def __init__(self, app: web.Application, sessions: SessionMaker, settings: Settings) -> None:
        self.app = app
        self.sessions = sessions
        self.settings = settings

    @property
    def email(self) -> bool:
        """Whether this server sends e-mail."""
        return mailer_key in self.app

    async def __call__(self, event: ev.DomainEvent) -> None:
        """Record the notifications of one event and deliver them."""
        async with self.sessions() as session:
            created = await notify_events.notify(
                session=session,
                event=event,
                default_language=self.settings.default_locale,
                email=self.email,
            )
        await self.deliver(created)

    async def deliver(self, created: list[Notification]) -> None:
        """Push new notifications to their people's open pages; wake the mailer."""
        hub = self.app[push_key]
        for notification in created:
            await hub.publish(
                str(notification.user_id), {"type": "notification", "id": str(notification.id)}
            )
        if created and mailer_key in self.app:
            self.app[mailer_key].wake()

    async def remind(self) -> None:
        """Send the reminders due now (once per session, whichever process comes first)."""
        async with self.sessions() as session:
            created = await notify_events.send_reminders(
                session=session,
                lead=timedelta(minutes=self.settings.reminder_minutes),
                default_language=self.settings.default_locale,
                email=self.email,
            )
        await self.deliver(created)

    async def outcomes_due(self) -> None:
        """Notify the outcomes that became overdue (once each, whichever process comes first)."""
        async with self.sessions() as session:
            created = await outcomes.notify_overdue(
                session=session,
                due=timedelta(days=self.settings.outcome_due_days),
                default_language=self.settings.default_locale,
                email=self.email,
            )
        await self.deliver(created)

    async def scheduled(self) -> None:
        """The periodic checks: reminders before sessions, then overdue outcomes."""
        try:
            await self.remind()
        finally:
            await self.outcomes_due()


class RoomsObeyRecords:
    """Orders the live rooms after what the records committed: a cancelled consultation's
    room ends, a reopened one accepts people again, a withdrawn invitee leaves it, a disabled
    account leaves every room."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def __call__(self, event: ev.DomainEvent) -> None:
        """Apply one event to the rooms, on every server process."""
        if not isinstance(
            event,
            ev.ConsultationCancelled
            | ev.ConsultationReopened
            | ev.InvitationWithdrawn
            | ev.UserDisabled
            | ev.Invited
            | ev.ConsultationScheduled,
        ):
            return
        try:
            rooms = get_registry(self.app)
        except RuntimeError:
            return  # signalling is not running (a command, a test without it)
        if isinstance(event, ev.ConsultationCancelled):
            await rooms.end_room(event.room_id, reason="cancelled")
        elif isinstance(event, ev.ConsultationReopened):
            await rooms.reopen_room(event.room_id)
        elif isinstance(event, ev.InvitationWithdrawn):
            await rooms.expel_user(event.room_id, str(event.user_id), reason="uninvited")
        elif isinstance(event, ev.Invited):
            # Invited again after a withdrawal: the withdrawal's bar must not keep them out.
            if event.room_id:
                await rooms.readmit_user(event.room_id, str(event.user_id))
        elif isinstance(event, ev.ConsultationScheduled):
            for user_id in event.new_invitees if event.room_id else ():
                await rooms.readmit_user(event.room_id, str(user_id))
        else:
            await rooms.disconnect_user(str(event.user_id), reason="disabled")


def setup_workflow(
    app: web.Application, *, settings: Settings, sessions: SessionMaker, hub: ev.EventHub
) -> None:
    """Listen to the records' events and run the push hub, the mailer and the reminders."""
    notifier = Notifier(app, sessions, settings)
    hub.listen(RoomsObeyRecords(app))
    hub.listen(notifier)
    smtp = SmtpConfig.of(settings)
    if smtp is not None:
        app[mailer_key] = MailSender(
            app,
            sessions=sessions,
            smtp=smtp,
            backoff=backoff_of(settings),
            base_url=settings.base_url,
        )
    push: PushHub = RedisPush(settings.redis_url) if settings.redis_url else LocalPush()
    app[push_key] = push

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        if isinstance(push, RedisPush):
            await push.start()
        tasks = [asyncio.create_task(_every(settings.scheduler_seconds, notifier.scheduled))]
        if mailer_key in app:
            tasks.append(asyncio.create_task(app[mailer_key].run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if isinstance(push, RedisPush):
                await push.close()

    async def end_streams(app: web.Application) -> None:
        if isinstance(push, RedisPush):
            push.local.close()
        elif isinstance(push, LocalPush):
            push.close()

    app.cleanup_ctx.append(lifetime)
    app.on_shutdown.append(end_streams)


async def _every(seconds: float, job: Callable[[], Awaitable[None]]) -> None:
    """Run a job now and then every ``seconds`` until cancelled; failures are logged."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("scheduled job %r failed", job)
        await asyncio.sleep(seconds)
