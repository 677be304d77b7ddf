"""Signing in and out, bearer tokens, passwords, and the admin's account controls."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
from aiohttp import web
from sqlmodel import Field, SQLModel

from records.errors import Invalid
from records.messages import msg
from records.models import User, UserPublic
from records.services import auth as auth_svc

from ..keys import config_key
from ..proxies import client_address
from ..security import (
    auth_method_key,
    bearer_token,
    csrf_token,
    current_session_id,
    end_session,
    require_actor,
    require_user,
    sign_in,
    user_key,
)
from .common import body, json, path_uuid, sessions
from .registry import ApiRoutes

routes = ApiRoutes(tag="accounts")


class Credentials(SQLModel):
    """A username and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionState(SQLModel):
    """Who is signed in, and the CSRF token for the browser's next writes."""

    user: UserPublic | None
    method: str | None
    csrf_token: str


class NewToken(SQLModel):
    """A bearer token, shown once."""

    token: str
    expires_at: datetime


class NewPassword(SQLModel):
    """The password an admin sets for a user."""

    new_password: str = Field(min_length=1, max_length=1024)


class PasswordChange(SQLModel):
    """One's current password and the new one."""

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class Ended(SQLModel):
    """How many sessions and tokens were ended."""

    ended: int


def _public(user: User) -> UserPublic:
    # From attributes: the stored role is a plain string, which model_dump would warn about.
    return UserPublic.model_validate(user, from_attributes=True)


def _state(request: web.Request) -> SessionState:
    user = request.get(user_key)
    return SessionState(
        user=_public(user) if user is not None else None,
        method=request.get(auth_method_key),
        csrf_token=csrf_token(request),
    )


@routes.route(
    "GET",
    "/api/v1/session",
    name="api-session",
    summary="Who is signed in, with the CSRF token for the next writes",
    response=SessionState,
    public=True,
    errors=(),
)
async def session_state(request: web.Request) -> web.Response:
    """The current identity (or none) and a CSRF token."""
    return json(_state(request))


@routes.route(
    "POST",
    "/api/v1/session",
    name="api-session-login",
    summary="Sign in the browser: sets the session cookie",
    body=Credentials,
    response=SessionState,
    public=True,
    errors=(400, 401, 403, 429),
)
async def session_login(request: web.Request) -> web.Response:
    """Check the credentials and open a browser session."""
    data = await body(request, Credentials)
    response = web.Response(content_type="application/json")
    await sign_in(request, response, username=data.username, password=data.password)
    response.body = orjson.dumps(_state(request).model_dump(mode="json"))
    return response


@routes.route(
    "DELETE",
    "/api/v1/session",
    name="api-session-logout",
    summary="Sign out the browser: ends the session and deletes the cookie",
    status=204,
    public=True,
    errors=(403,),
)
async def session_logout(request: web.Request) -> web.Response:
    """End the browser session."""
    response = web.Response(status=204)
    await end_session(request, response)
    return response


@routes.route(
    "POST",
    "/api/v1/tokens",
    name="api-tokens-create",
    summary="Exchange a username and password for a bearer token",
    body=Credentials,
    response=NewToken,
    status=201,
    public=True,
    errors=(400, 401, 403, 429),
)
async def create_token(request: web.Request) -> web.Response:
    """Issue a bearer token."""
    data = await body(request, Credentials)
    ttl = timedelta(hours=request.app[config_key].token_ttl_hours)
    async with sessions(request)() as session:
        token, expires_at = await auth_svc.token_login(
            session=session,
            username=data.username,
            password=data.password,
            ttl=ttl,
            client_addr=client_address(request),
        )
    return json(NewToken(token=token, expires_at=expires_at), status=201)


@routes.route(
    "DELETE",
    "/api/v1/tokens/current",
    name="api-token-revoke",
    summary="Revoke the bearer token this request carries",
    status=204,
    errors=(400, 401),
)
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke the caller's bearer token."""
    actor = require_actor(request)
    token = bearer_token(request)
    if token is None:
        raise Invalid(msg("Yêu cầu này phải gửi kèm mã truy cập (Authorization: Bearer …)"))
    async with sessions(request)() as session:
        await auth_svc.revoke_api_token(session=session, token=token, actor=actor)
    return web.Response(status=204)


@routes.route(
    "POST",
    "/api/v1/account/password",
    name="api-account-password",
    summary="Change one's own password (other sessions and tokens end)",
    body=PasswordChange,
    status=204,
    errors=(400, 401, 403, 429),
)
async def change_password(request: web.Request) -> web.Response:
    """Change the caller's password."""
    actor = require_actor(request)
    data = await body(request, PasswordChange)
    async with sessions(request)() as session:
        await auth_svc.change_password(
            session=session,
            actor=actor,
            current_password=data.current_password,
            new_password=data.new_password,
            keep_session_id=current_session_id(request),
        )
    return web.Response(status=204)


@routes.route(
    "DELETE",
    "/api/v1/users/{id}/sessions",
    name="api-user-sessions-end",
    summary="Sign a user out everywhere: sessions and API tokens (admin)",
    response=Ended,
    errors=(401, 403, 404),
)
async def end_user_sessions(request: web.Request) -> web.Response:
    """End all of a user's sessions."""
    actor = require_actor(request)
    async with sessions(request)() as session:
        ended = await auth_svc.end_all_sessions(
            session=session, user_id=path_uuid(request), actor=actor
        )
    return json(Ended(ended=ended))


@routes.route(
    "POST",
    "/api/v1/users/{id}/unlock",
    name="api-user-unlock",
    summary="Lift the lock left by repeated failed sign-ins (admin)",
    response=UserPublic,
    errors=(401, 403, 404),
)
async def unlock_user(request: web.Request) -> web.Response:
    """Unlock an account."""
    actor = require_actor(request)
    async with sessions(request)() as session:
        user = await auth_svc.unlock_user(session=session, user_id=path_uuid(request), actor=actor)
    return json(_public(user))


@routes.route(
    "POST",
    "/api/v1/users/{id}/password",
    name="api-user-password-reset",
    summary="Set a user's password (admin); the user's sessions and tokens end",
    body=NewPassword,
    status=204,
    errors=(400, 401, 403, 404),
)
async def reset_password(request: web.Request) -> web.Response:
    """Reset a user's password."""
    actor = require_actor(request)
    data = await body(request, NewPassword)
    async with sessions(request)() as session:
        await auth_svc.reset_password(
            session=session,
            user_id=path_uuid(request),
            new_password=data.new_password,
            actor=actor,
        )
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    """Register the account routes (the API registers them with every other table)."""
    routes.add_to(app)


__all__ = ["add_routes", "require_user", "routes"]
