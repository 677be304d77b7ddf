"""The notification centre: the list with mark-read, the live stream of the bell (Server-Sent
Events, no polling), and each person's choices (e-mail per kind, language) on the account page.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from aiohttp import web

from records.actor import Actor
from records.errors import NotFound
from records.messages import N_
from records.models import Notification, NotificationKind
from records.services import notifications as notifications_svc

from ..i18n import LANGUAGES, gettext, localizer, translations_key
from ..keys import sessions_key
from ..notify_text import say, target_path
from ..push import push_key
from ..security import require_actor, still_signed_in
from .common import flash, page_offset, pager, parse_id, render, see_other, url
from .forms import form_data

NOT_FOUND = N_("Không tìm thấy thông báo")
# A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 25.0
KIND_NAMES = {
    NotificationKind.request: N_("Yêu cầu hội chẩn mới gửi tới cơ sở của tôi"),
    NotificationKind.scheduled: N_("Phiên được lên lịch, đổi giờ"),
    NotificationKind.cancelled: N_("Phiên bị hủy"),
    NotificationKind.invited: N_("Lời mời tham gia phiên"),
    NotificationKind.declined: N_("Người được mời từ chối"),
    NotificationKind.reminder: N_("Nhắc trước giờ bắt đầu 15 phút"),
    NotificationKind.minutes: N_("Biên bản đã hoàn tất"),
    NotificationKind.outcome: N_("Chưa ghi kết quả sau hội chẩn"),
    NotificationKind.thread: N_("Tin nhắn mới trong hồ sơ"),
}


@dataclass(frozen=True, slots=True)
class NotificationView:
    """A notification as the page shows it."""

    id: uuid.UUID
    text: str
    url: str | None
    emergency: bool
    created_at: datetime
    read: bool


def view_of(request: web.Request, n: Notification) -> NotificationView:
    """A notification in the reader's language, with where it leads."""
    lz = localizer(request)
    return NotificationView(
        id=n.id,
        text=say(request.app[translations_key], lz.lang, n),
        url=target_path(request.app, n),
        emergency=n.emergency,
        created_at=n.created_at,
        read=n.read_at is not None,
    )


async def list_page(request: web.Request) -> web.StreamResponse:
    """The person's notifications, newest first."""
    who = require_actor(request)
    offset = page_offset(request)
    async with request.app[sessions_key]() as session:
        page = await notifications_svc.list_for(session=session, actor=who, limit=25, offset=offset)
    items = [view_of(request, n) for n in page.items]
    context = {
        "items": items,
        "page": pager(request, offset=offset, limit=25, count=len(items), total=page.total),
    }
    return await render(request, "notifications/list.html", context)


async def _announce_count(request: web.Request, who: Actor) -> None:
    """Tell the person's other open pages the new unread count."""
    await request.app[push_key].publish(str(who.user_id), {"type": "read"})


async def read_one(request: web.Request) -> web.StreamResponse:
    """Mark one notification read and open what it is about."""
    who = require_actor(request)
    notification_id = parse_id(request.match_info["id"], NOT_FOUND)
    async with request.app[sessions_key]() as session:
        notification = await notifications_svc.get_own(
            session=session, actor=who, notification_id=notification_id
        )
        await notifications_svc.mark_read(
            session=session, actor=who, notification_id=notification_id
        )
    await _announce_count(request, who)
    return see_other(target_path(request.app, notification) or url(request, "notifications"))


async def read_all(request: web.Request) -> web.StreamResponse:
    """Mark every notification read."""
    who = require_actor(request)
    async with request.app[sessions_key]() as session:
        await notifications_svc.mark_read(session=session, actor=who)
    await _announce_count(request, who)
    response = see_other(url(request, "notifications"))
    flash(request, response, gettext(request, "Đã đánh dấu tất cả là đã đọc"), "info")
    return response


def _event(name: str, data: dict[str, object]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def stream(request: web.Request) -> web.StreamResponse:
    """``text/event-stream``: the unread count now, then each new notification as it comes."""
    who = require_actor(request)
    hub = request.app[push_key]
    sessions = request.app[sessions_key]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            # Tells nginx not to buffer the stream.
            "X-Accel-Buffering": "no",
        }
    )
    async with hub.subscribe(str(who.user_id)) as inbox:
        await response.prepare(request)
        async with sessions() as session:
            unread = await notifications_svc.unread_count(session=session, actor=who)
        await response.write(_event("count", {"unread": unread}))
        while True:
            try:
                push = await asyncio.wait_for(inbox.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                push = {"type": "keepalive"}
            if push is None:
                break
            # The stream lives as long as the session: a logout, the session's expiry or a
            # disabled account ends it, and the page stops listening.
            if not await still_signed_in(request):
                await response.write(_event("ended", {}))
                break
            if push["type"] == "keepalive":
                await response.write(b": keepalive\n\n")
                continue
            async with sessions() as session:
                unread = await notifications_svc.unread_count(session=session, actor=who)
                item = None
                if push.get("type") == "notification":
                    try:
                        item = await notifications_svc.get_own(
                            session=session, actor=who, notification_id=uuid.UUID(push["id"])
                        )
                    except (NotFound, KeyError, ValueError):
                        item = None
            if item is None:
                await response.write(_event("count", {"unread": unread}))
                continue
            view = view_of(request, item)
            await response.write(
                _event(
                    "notification",
                    {
                        "id": str(view.id),
                        "text": view.text,
                        "url": url(request, "notification-read", id=str(view.id)),
                        "emergency": view.emergency,
                        "unread": unread,
                    },
                )
            )
    return response


async def save_choices(request: web.Request) -> web.StreamResponse:
    """Save the e-mail choice of each kind and the preferred language (account page)."""
    who = require_actor(request)
    data = await form_data(request)
    language = data.get("language") or None
    if language is not None and language not in LANGUAGES:
        language = None
    email = {str(kind): data.get(f"email_{kind}") == "on" for kind in NotificationKind}
    async with request.app[sessions_key]() as session:
        await notifications_svc.set_choices(
            session=session, actor=who, email=email, language=language
        )
    response = see_other(url(request, "account"))
    flash(request, response, gettext(request, "Đã lưu cách nhận thông báo"))
    return response


async def choices_context(request: web.Request) -> dict[str, object]:
    """What the account page's notification section shows."""
    who = require_actor(request)
    async with request.app[sessions_key]() as session:
        chosen = await notifications_svc.email_choices(session, who.user_id) if who.user_id else {}
    lz = localizer(request)
    return {
        "kinds": [(str(k), lz.gettext(KIND_NAMES[k]), chosen.get(k, False)) for k in KIND_NAMES],
        "language_choices": LANGUAGES,
    }


def add_routes(app: web.Application) -> None:
    """Register the notification centre."""
    app.router.add_get("/notifications", list_page, name="notifications")
    app.router.add_get("/notifications/stream", stream, name="notifications-stream")
    app.router.add_post("/notifications/read-all", read_all, name="notifications-read-all")
    app.router.add_post("/notifications/{id}/read", read_one, name="notification-read")
    app.router.add_post("/account/notifications", save_choices, name="account-notifications")
