"""Facilities and users: the directory admins manage and coordinators search."""

from __future__ import annotations

from aiohttp import web
from sqlmodel import Field

from records.models import (
    FacilityCreate,
    FacilityLevel,
    FacilityPublic,
    FacilityUpdate,
    Role,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from records.services import facilities as facility_svc
from records.services import provisioning
from records.services import users as user_svc

from .common import (
    actor,
    body,
    one,
    page,
    paging,
    path_uuid,
    query_enum,
    query_text,
    query_uuid,
    sessions,
)
from .registry import PAGING, ApiRoutes, Param

routes = ApiRoutes(tag="directory")


class NewUser(UserCreate):
    """A new user with an initial password."""

    password: str = Field(min_length=1, max_length=128)


@routes.route(
    "GET",
    "/api/v1/facilities",
    name="api-facilities",
    summary="List facilities (the referral line)",
    response=FacilityPublic,
    many=True,
    query=(
        Param("level", "level", enum=tuple(FacilityLevel)),
        Param("q", "name or code"),
        *PAGING,
    ),
)
async def list_facilities(request: web.Request) -> web.Response:
    """List facilities."""
    limit, offset = paging(request)
    level = query_enum(request, "level", list(FacilityLevel))
    async with sessions(request)() as session:
        actor(request)  # the directory is for signed-in users only
        result = await facility_svc.list_facilities(
            session=session,
            level=FacilityLevel(level) if level else None,
            q=query_text(request, "q"),
            limit=limit,
            offset=offset,
        )
    return page(FacilityPublic, result)


@routes.route(
    "POST",
    "/api/v1/facilities",
    name="api-facilities-create",
    summary="Create a facility (admin)",
    body=FacilityCreate,
    response=FacilityPublic,
    status=201,
    errors=(400, 401, 403, 409),
)
async def create_facility(request: web.Request) -> web.Response:
    """Create a facility."""
    data = await body(request, FacilityCreate)
    async with sessions(request)() as session:
        facility = await facility_svc.create_facility(
            session=session, data=data, actor=actor(request)
        )
    return one(FacilityPublic, facility, status=201)


@routes.route(
    "GET",
    "/api/v1/facilities/{id}",
    name="api-facility",
    summary="Read a facility",
    response=FacilityPublic,
)
async def get_facility(request: web.Request) -> web.Response:
    """Read a facility."""
    async with sessions(request)() as session:
        actor(request)
        facility = await facility_svc.get_facility(session=session, facility_id=path_uuid(request))
    return one(FacilityPublic, facility)


@routes.route(
    "PATCH",
    "/api/v1/facilities/{id}",
    name="api-facility-update",
    summary="Change a facility (admin)",
    body=FacilityUpdate,
    response=FacilityPublic,
    errors=(400, 401, 403, 404, 409),
)
async def update_facility(request: web.Request) -> web.Response:
    """Update a facility."""
    data = await body(request, FacilityUpdate)
    async with sessions(request)() as session:
        facility = await facility_svc.update_facility(
            session=session, facility_id=path_uuid(request), data=data, actor=actor(request)
        )
    return one(FacilityPublic, facility)


@routes.route(
    "GET",
    "/api/v1/users",
    name="api-users",
    summary="Find people by name, role, specialty or facility",
    response=UserPublic,
    many=True,
    query=(
        Param("q", "name or username (accents optional)"),
        Param("role", "role", enum=tuple(Role)),
        Param("facility_id", "facility", fmt="uuid"),
        Param("specialty", "specialty"),
        *PAGING,
    ),
)
async def list_users(request: web.Request) -> web.Response:
    """Search users."""
    limit, offset = paging(request)
    role = query_enum(request, "role", list(Role))
    async with sessions(request)() as session:
        result = await user_svc.list_users(
            session=session,
            actor=actor(request),
            q=query_text(request, "q"),
            role=Role(role) if role else None,
            facility_id=query_uuid(request, "facility_id"),
            specialty=query_text(request, "specialty"),
            limit=limit,
            offset=offset,
        )
    return page(UserPublic, result)


@routes.route(
    "POST",
    "/api/v1/users",
    name="api-users-create",
    summary="Create a user with an initial password (admin)",
    body=NewUser,
    response=UserPublic,
    status=201,
    errors=(400, 401, 403, 409),
)
async def create_user(request: web.Request) -> web.Response:
    """Create a user."""
    data = await body(request, NewUser)
    async with sessions(request)() as session:
        user = await provisioning.create_user_with_password(
            session=session,
            data=UserCreate.model_validate(data.model_dump(exclude={"password"})),
            password=data.password,
            actor=actor(request),
        )
    return one(UserPublic, user, status=201)


@routes.route(
    "GET", "/api/v1/users/{id}", name="api-user", summary="Read a user", response=UserPublic
)
async def get_user(request: web.Request) -> web.Response:
    """Read a user."""
    async with sessions(request)() as session:
        user = await user_svc.get_user(
            session=session, user_id=path_uuid(request), actor=actor(request)
        )
    return one(UserPublic, user)


@routes.route(
    "PATCH",
    "/api/v1/users/{id}",
    name="api-user-update",
    summary="Change a user; active=false disables and ends their sessions (admin)",
    body=UserUpdate,
    response=UserPublic,
    errors=(400, 401, 403, 404, 409),
)
async def update_user(request: web.Request) -> web.Response:
    """Update a user."""
    data = await body(request, UserUpdate)
    async with sessions(request)() as session:
        user = await user_svc.update_user(
            session=session, user_id=path_uuid(request), data=data, actor=actor(request)
        )
    return one(UserPublic, user)
