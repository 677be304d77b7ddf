"""Signing in and out, and the user's own account (change password)."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from records.errors import Forbidden, Invalid, RecordsError, Throttled, Unauthenticated
from records.messages import N_
from records.services import auth as auth_svc

from ..i18n import gettext
from ..keys import sessions_key
from ..security import (
    current_session_id,
    end_session,
    require_actor,
    require_user,
    sign_in,
    user_key,
)
from .common import flash, render, safe_next, see_other, url
from .forms import REQUIRED, error_fields, error_message, form_data
from .notifications import choices_context

PASSWORDS_DIFFER = N_("Mật khẩu nhập lại không khớp")


def _home(request: web.Request) -> str:
    return url(request, "home")


async def login_page(request: web.Request) -> web.StreamResponse:
    """The login form; a signed-in user goes straight on."""
    next_url = safe_next(request.query.get("next"), _home(request))
    if request.get(user_key) is not None:
        return see_other(next_url)
    return await render(request, "auth/login.html", {"values": {"next": next_url}, "errors": {}})


def _login_error(request: web.Request, exc: RecordsError) -> tuple[str, int]:
    if isinstance(exc, Throttled):
        return error_message(request, exc), 429
    if isinstance(exc, Forbidden):
        return error_message(request, exc), 403
    return error_message(request, exc), 400 if isinstance(exc, Invalid) else 401


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Check the credentials, open a session and go where the user was heading."""
    data = await form_data(request)
    username = data.get("username", "").strip()
    password = data.get("password", "")
    next_url = safe_next(data.get("next"), _home(request))
    values = {"username": username, "next": next_url}
    errors = {
        name: gettext(request, REQUIRED)
        for name, value in (("username", username), ("password", password))
        if not value
    }
    if errors:
        return await render(
            request, "auth/login.html", {"values": values, "errors": errors}, status=400
        )
    response = see_other(next_url)
    try:
        await sign_in(request, response, username=username, password=password)
    except (Unauthenticated, Throttled, Invalid, Forbidden) as exc:
        message, status = _login_error(request, exc)
        context: dict[str, Any] = {"values": values, "errors": {}, "message": message}
        rendered = await render(request, "auth/login.html", context, status=status)
        if isinstance(exc, Throttled) and exc.retry_after:
            rendered.headers["Retry-After"] = str(math.ceil(exc.retry_after))
        return rendered
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session and show the login form."""
    response = see_other(url(request, "login"))
    await end_session(request, response)
    flash(request, response, gettext(request, "Bạn đã đăng xuất"), "info")
    return response


async def account_page(request: web.Request) -> web.StreamResponse:
    """The user's own details, the change-password form and how to be notified."""
    require_user(request)
    context = {"values": {}, "errors": {}, **await choices_context(request)}
    return await render(request, "auth/account.html", context)


async def change_password(request: web.Request) -> web.StreamResponse:
    """Change one's own password; other sessions end, this one stays."""
    actor = require_actor(request)
    data = await form_data(request)
    current = data.get("current_password", "")
    new = data.get("new_password", "")
    confirm = data.get("confirm_password", "")
    errors: dict[str, str] = {}
    for name, value in (
        ("current_password", current),
        ("new_password", new),
        ("confirm_password", confirm),
    ):
        if not value:
            errors[name] = gettext(request, REQUIRED)
    if not errors and new != confirm:
        errors["confirm_password"] = gettext(request, PASSWORDS_DIFFER)
    if not errors:
        try:
            async with request.app[sessions_key]() as session:
                await auth_svc.change_password(
                    session=session,
                    actor=actor,
                    current_password=current,
                    new_password=new,
                    keep_session_id=current_session_id(request),
                )
        except Invalid as exc:
            fields = error_fields(request, exc)
            # The password rules name the field "password"; here it is the new one.
            if "password" in fields:
                fields["new_password"] = fields.pop("password")
            errors = fields or {"_": error_message(request, exc)}
    if errors:
        context = {"values": {}, "errors": errors, **await choices_context(request)}
        return await render(request, "auth/account.html", context, status=400)
    response = see_other(url(request, "account"))
    flash(
        request, response, gettext(request, "Đã đổi mật khẩu. Các phiên đăng nhập khác đã kết thúc")
    )
    return response


def add_routes(app: web.Application) -> None:
    """Register the login, logout and account pages."""
    app.router.add_get("/login", login_page, name="login")
    app.router.add_post("/login", login_submit, name="login-submit")
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_get("/account", account_page, name="account")
    app.router.add_post("/account/password", change_password, name="account-password")
