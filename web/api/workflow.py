"""The workflow between the calls: notifications, a case's written thread, invitation answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web
from sqlmodel import SQLModel

from records.blobs import CHUNK
from records.errors import Invalid
from records.messages import msg
from records.models import (
    AttachmentKind,
    ConsultationPublic,
    InvitationAnswer,
    NotificationPublic,
    ThreadEntryPublic,
    ThreadKind,
    ThreadPost,
)
from records.services import attachments as attachments_svc
from records.services import consultations as consultations_svc
from records.services import invitations
from records.services import notifications as notifications_svc
from records.services import thread as thread_svc
from records.services.thread import ThreadEntry

from ..i18n import localizer, translations_key
from ..keys import blobs_key, config_key
from ..notify_text import say, target_path
from ..push import push_key
from .attachments import MAX_FIELD, part_filename
from .common import actor, body, json, paging, path_uuid, query_bool, sessions
from .registry import PAGING, ApiRoutes, Param

routes = ApiRoutes(tag="workflow")


class UnreadCount(SQLModel):
    """How many notifications the caller has not read."""

    unread: int


def _entry(e: ThreadEntry) -> ThreadEntryPublic:
    return ThreadEntryPublic(
        id=e.id,
        anchor=e.anchor,
        author_id=e.author_id,
        author=e.author,
        kind=e.kind,
        text=e.text,
        attachment_id=e.attachment.id if e.attachment else None,
        consultation_id=e.consultation_id,
        in_session=e.in_session,
        at=e.at,
    )


@routes.route(
    "GET",
    "/api/v1/notifications",
    name="api-notifications",
    summary="The caller's notifications, newest first, in the caller's language",
    response=NotificationPublic,
    many=True,
    query=(Param("unread", "only unread ones", "boolean"), *PAGING),
)
async def list_notifications(request: web.Request) -> web.Response:
    """List one's notifications."""
    limit, offset = paging(request)
    lang = localizer(request).lang
    async with sessions(request)() as session:
        page = await notifications_svc.list_for(
            session=session,
            actor=actor(request),
            unread_only=query_bool(request, "unread"),
            limit=limit,
            offset=offset,
        )
    items = [
        NotificationPublic(
            id=n.id,
            kind=n.kind,
            text=say(request.app[translations_key], lang, n),
            url=target_path(request.app, n),
            emergency=n.emergency,
            created_at=n.created_at,
            read_at=n.read_at,
        )
        for n in page.items
    ]
    return json({"items": items, "total": page.total, "limit": page.limit, "offset": page.offset})


@routes.route(
    "POST",
    "/api/v1/notifications/{id}/read",
    name="api-notification-read",
    summary="Mark one of the caller's notifications read",
    response=UnreadCount,
)
async def read_notification(request: web.Request) -> web.Response:
    """Mark a notification read; answers the unread count left."""
    who = actor(request)
    async with sessions(request)() as session:
        await notifications_svc.mark_read(
            session=session, actor=who, notification_id=path_uuid(request)
        )
        unread = await notifications_svc.unread_count(session=session, actor=who)
    await request.app[push_key].publish(str(who.user_id), {"type": "read"})
    return json(UnreadCount(unread=unread))


@routes.route(
    "GET",
    "/api/v1/cases/{id}/thread",
    name="api-case-thread",
    summary="A case's written thread with the chat of its sessions (`in_session`), oldest first",
    response=ThreadEntryPublic,
    many=True,
)
async def read_thread(request: web.Request) -> web.Response:
    """Read a case thread."""
    async with sessions(request)() as session:
        entries = await thread_svc.read_thread(
            session=session, actor=actor(request), case_id=path_uuid(request)
        )
    items = [_entry(e) for e in entries]
    return json({"items": items, "total": len(items), "limit": len(items), "offset": 0})


async def _multipart_post(request: web.Request) -> tuple[ThreadPost, object | None]:
    """Fields `text`, `kind`, then an optional `file` part, streamed into the file store."""
    reader = await request.multipart()
    text, kind, attachment = "", "message", None
    who = actor(request)
    case_id = path_uuid(request)
    async with sessions(request)() as session:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise Invalid(msg("Dữ liệu multipart lồng nhau không được hỗ trợ"))
            if part.name in ("text", "kind"):
                raw = await part.read_chunk(MAX_FIELD * 4 + 1)
                value = raw.decode("utf-8", "replace").strip()
                if part.name == "text":
                    text = value
                else:
                    kind = value
            elif part.name == "file" and attachment is None:
                attachment = await attachments_svc.upload(
                    session=session,
                    blobs=request.app[blobs_key],
                    actor=who,
                    case_id=case_id,
                    kind=AttachmentKind.document,
                    filename=part_filename(part),
                    chunks=_chunks(part),
                    max_bytes=request.app[config_key].max_upload_bytes,
                    for_thread=True,
                )
            else:
                await part.release()
    try:
        return ThreadPost(text=text[:5000], kind=ThreadKind(kind)), attachment
    except ValueError:
        raise Invalid(msg("Loại tin nhắn không hợp lệ")) from None


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


@routes.route(
    "POST",
    "/api/v1/cases/{id}/thread",
    name="api-case-thread-post",
    summary="Post to a case thread: JSON {text, kind}, or multipart `text`, `kind`, `file`",
    body=ThreadPost,
    response=ThreadEntryPublic,
    status=201,
)
async def post_thread(request: web.Request) -> web.Response:
    """Post a message (with an optional file) to a case thread."""
    who = actor(request)
    case_id = path_uuid(request)
    attachment = None
    if request.content_type.startswith("multipart/"):
        data, attachment = await _multipart_post(request)
    else:
        data = await body(request, ThreadPost)
    async with sessions(request)() as session:
        message = await thread_svc.post(
            session=session,
            actor=who,
            case_id=case_id,
            data=data,
            attachment_id=getattr(attachment, "id", None),
        )
        entries = await thread_svc.read_thread(session=session, actor=who, case_id=case_id)
    entry = next(e for e in entries if e.id == message.id)
    return json(_entry(entry), status=201)


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/invitation",
    name="api-consultation-invitation",
    summary="Accept or decline one's invitation (a decline needs a reason)",
    body=InvitationAnswer,
    response=ConsultationPublic,
    errors=(400, 401, 404, 409),
)
async def answer_invitation(request: web.Request) -> web.Response:
    """Answer one's invitation."""
    data = await body(request, InvitationAnswer)
    who = actor(request)
    consultation_id = path_uuid(request)
    async with sessions(request)() as session:
        await invitations.answer_invitation(
            session=session, consultation_id=consultation_id, data=data, actor=who
        )
        public = await consultations_svc.get_consultation(
            session=session, consultation_id=consultation_id, actor=who
        )
    return json(public)
