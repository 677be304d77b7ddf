"""Consultations: requests, scheduling, invitations, the agenda, joining the room, chat log."""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web
from sqlmodel import Field, SQLModel

from records import access
from records.models import (
    ConsultationPublic,
    ConsultationRequest,
    ConsultationSchedule,
    ConsultationStatus,
    ParticipantRole,
)
from records.services import consultations as svc
from records.services import join_tokens, reopening, room_events, schedules

from ..keys import config_key, ice_provider_key
from .common import (
    actor,
    body,
    json,
    paging,
    path_uuid,
    query_bool,
    query_datetime,
    query_enum,
    sessions,
)
from .registry import PAGING, ApiRoutes, Param

routes = ApiRoutes(tag="consultations")


class Invitation(SQLModel):
    """Invite a person to a consultation."""

    user_id: uuid.UUID
    role: ParticipantRole = ParticipantRole.specialist


class ConflictQuery(SQLModel):
    """Whose other sessions overlap a proposed time."""

    user_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    start: datetime
    end: datetime


class ConflictPublic(SQLModel):
    """An invitee busy at the proposed time; the session itself only when the caller may read it
    (another hospital's session is just "busy": no id, title or times)."""

    user_id: uuid.UUID
    busy: bool = True
    consultation_id: uuid.UUID | None = None
    title: str | None = None
    scheduled_start: datetime | None = None
    scheduled_end: datetime | None = None


def conflict_items(found: list[schedules.Busy]) -> list[ConflictPublic]:
    """Overlapping sessions as the API shows them: busy only, for those the caller may not read."""
    return [
        ConflictPublic(
            user_id=b.user_id,
            busy=True,
            consultation_id=b.consultation.id if b.consultation else None,
            title=b.consultation.title if b.consultation else None,
            scheduled_start=b.consultation.scheduled_start if b.consultation else None,
            scheduled_end=b.consultation.scheduled_end if b.consultation else None,
        )
        for b in found
    ]


class ScheduledPublic(ConsultationPublic):
    """A scheduled consultation, with the invitees' overlapping sessions as a warning."""

    conflicts: list[ConflictPublic] = Field(default_factory=list)


class JoinInfo(SQLModel):
    """What a client needs to open the room's WebSocket."""

    room_id: str
    token: str
    expires_at: datetime
    ws_url: str
    ice_servers: list[dict[str, object]]
    role: str


class ChatLine(SQLModel):
    """A stored chat message of the room."""

    user_id: uuid.UUID
    name: str
    text: str
    at: datetime


def socket_base(request: web.Request, public_origins: tuple[str, ...]) -> str:
    """ws(s)://host of the server: the first configured public origin, else this request's."""
    if public_origins:
        parts = urlsplit(public_origins[0])
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    return f"{'wss' if request.secure else 'ws'}://{request.host}"


async def _public(request: web.Request, consultation_id: uuid.UUID) -> ConsultationPublic:
    async with sessions(request)() as session:
        return await svc.get_consultation(
            session=session, consultation_id=consultation_id, actor=actor(request)
        )


@routes.route(
    "GET",
    "/api/v1/consultations",
    name="api-consultations",
    summary="List consultations visible to the caller (agenda: from/to window)",
    response=ConsultationPublic,
    many=True,
    query=(
        Param("status", "status", enum=tuple(ConsultationStatus)),
        Param("from", "scheduled at or after (ISO 8601)", fmt="date-time"),
        Param("to", "scheduled before (ISO 8601)", fmt="date-time"),
        Param("mine", "only sessions the caller takes part in", "boolean"),
        *PAGING,
    ),
)
async def list_consultations(request: web.Request) -> web.Response:
    """List consultations."""
    limit, offset = paging(request)
    status = query_enum(request, "status", list(ConsultationStatus))
    async with sessions(request)() as session:
        result = await svc.list_consultations(
            session=session,
            actor=actor(request),
            status=ConsultationStatus(status) if status else None,
            start=query_datetime(request, "from"),
            end=query_datetime(request, "to"),
            mine=query_bool(request, "mine"),
            limit=limit,
            offset=offset,
        )
        items = [await svc.to_public(session, c) for c in result.items]
    return json(
        {"items": items, "total": result.total, "limit": result.limit, "offset": result.offset}
    )


@routes.route(
    "POST",
    "/api/v1/consultations",
    name="api-consultations-request",
    summary="Request a consultation on cases of the caller's facility with a facility above",
    body=ConsultationRequest,
    response=ConsultationPublic,
    status=201,
    errors=(400, 401, 403, 404, 409),
)
async def request_consultation(request: web.Request) -> web.Response:
    """Request a consultation."""
    data = await body(request, ConsultationRequest)
    async with sessions(request)() as session:
        consultation = await svc.request_consultation(
            session=session, data=data, actor=actor(request)
        )
    return json(await _public(request, consultation.id), status=201)


@routes.route(
    "GET",
    "/api/v1/consultations/{id}",
    name="api-consultation",
    summary="Read a consultation with its cases and participants",
    response=ConsultationPublic,
)
async def get_consultation(request: web.Request) -> web.Response:
    """Read a consultation."""
    return json(await _public(request, path_uuid(request)))


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/schedule",
    name="api-consultation-schedule",
    summary="Schedule (or reschedule) a consultation; `conflicts` warns of overlapping sessions",
    body=ConsultationSchedule,
    response=ScheduledPublic,
    errors=(400, 401, 403, 404, 409),
)
async def schedule(request: web.Request) -> web.Response:
    """Schedule a consultation."""
    data = await body(request, ConsultationSchedule)
    consultation_id = path_uuid(request)
    async with sessions(request)() as session:
        scheduled = await schedules.schedule(
            session=session, consultation_id=consultation_id, data=data, actor=actor(request)
        )
    public = await _public(request, consultation_id)
    return json(
        ScheduledPublic.model_validate(
            public.model_dump(), update={"conflicts": conflict_items(scheduled.conflicts)}
        )
    )


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/cancel",
    name="api-consultation-cancel",
    summary="Cancel a consultation that has not happened",
    response=ConsultationPublic,
    errors=(401, 403, 404, 409),
)
async def cancel(request: web.Request) -> web.Response:
    """Cancel a consultation."""
    consultation_id = path_uuid(request)
    async with sessions(request)() as session:
        await svc.cancel(session=session, consultation_id=consultation_id, actor=actor(request))
    return json(await _public(request, consultation_id))


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/reopen",
    name="api-consultation-reopen",
    summary="Reopen a session ended by mistake, within its scheduled time (chair or host "
    "coordinator)",
    response=ConsultationPublic,
    errors=(401, 403, 404, 409),
)
async def reopen(request: web.Request) -> web.Response:
    """Reopen an ended consultation."""
    consultation_id = path_uuid(request)
    async with sessions(request)() as session:
        await reopening.reopen(
            session=session, consultation_id=consultation_id, actor=actor(request)
        )
    return json(await _public(request, consultation_id))


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/participants",
    name="api-consultation-invite",
    summary="Invite a person (host coordinator)",
    body=Invitation,
    response=ConsultationPublic,
    status=201,
    errors=(400, 401, 403, 404, 409),
)
async def invite(request: web.Request) -> web.Response:
    """Invite someone."""
    data = await body(request, Invitation)
    consultation_id = path_uuid(request)
    async with sessions(request)() as session:
        await schedules.invite(
            session=session,
            consultation_id=consultation_id,
            user_id=data.user_id,
            role=data.role,
            actor=actor(request),
        )
    return json(await _public(request, consultation_id), status=201)


@routes.route(
    "DELETE",
    "/api/v1/consultations/{id}/participants/{user_id}",
    name="api-consultation-uninvite",
    summary="Withdraw an invitation (host coordinator)",
    response=ConsultationPublic,
    errors=(401, 403, 404, 409),
)
async def uninvite(request: web.Request) -> web.Response:
    """Withdraw an invitation."""
    consultation_id = path_uuid(request)
    async with sessions(request)() as session:
        await schedules.uninvite(
            session=session,
            consultation_id=consultation_id,
            user_id=path_uuid(request, "user_id"),
            actor=actor(request),
        )
    return json(await _public(request, consultation_id))


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/conflicts",
    name="api-consultation-conflicts",
    summary="Other sessions of these people that overlap the proposed time",
    body=ConflictQuery,
    response=ConflictPublic,
    many=True,
)
async def conflicts(request: web.Request) -> web.Response:
    """Find scheduling conflicts."""
    data = await body(request, ConflictQuery)
    consultation_id = path_uuid(request)
    async with sessions(request)() as session:
        await access.require_consultation(
            session=session, consultation_id=consultation_id, actor=actor(request), manage=True
        )
        found = await schedules.find_conflicts(
            session=session,
            actor=actor(request),
            user_ids=data.user_ids,
            start=data.start,
            end=data.end,
            exclude_id=consultation_id,
        )
    items = conflict_items(found)
    return json({"items": items, "total": len(items), "limit": len(items), "offset": 0})


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/join",
    name="api-consultation-join",
    summary="A single-use join token and the WebSocket address of the room",
    response=JoinInfo,
    errors=(401, 404, 409),
)
async def join(request: web.Request) -> web.Response:
    """Issue a join token for the room."""
    who = actor(request)
    config = request.app[config_key]
    async with sessions(request)() as session:
        consultation, role = await room_events.require_joinable(
            session=session,
            consultation_id=path_uuid(request),
            actor=who,
        )
        token, expires_at = await join_tokens.issue_join_token(
            session=session,
            user_id=who.user_id,
            room_id=consultation.room_id,
            ttl_seconds=config.join_token_ttl_seconds,
        )
    ws_path = request.app.router["ws-room"].url_for(room_id=consultation.room_id)
    info = JoinInfo(
        room_id=consultation.room_id,
        token=token,
        expires_at=expires_at,
        ws_url=f"{socket_base(request, config.allowed_origins)}{ws_path}",
        ice_servers=request.app[ice_provider_key](str(who.user_id)),
        role=role,
    )
    return json(info)


@routes.route(
    "GET",
    "/api/v1/consultations/{id}/chat",
    name="api-consultation-chat",
    summary="The room's chat log",
    response=ChatLine,
    many=True,
)
async def chat_log(request: web.Request) -> web.Response:
    """The stored chat of a consultation."""
    async with sessions(request)() as session:
        lines = await room_events.chat_log(
            session=session,
            consultation_id=path_uuid(request),
            actor=actor(request),
        )
    items = [ChatLine(user_id=m.user_id, name=name, text=m.text, at=m.at) for m, name in lines]
    return json({"items": items, "total": len(items), "limit": len(items), "offset": 0})
