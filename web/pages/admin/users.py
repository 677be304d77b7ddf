"""User accounts: the list, a new account, and one account's details and security actions."""

from __future__ import annotations

import uuid

from aiohttp import web

from records.actor import Actor
from records.errors import Conflict, Invalid
from records.messages import N_, Message, msg
from records.models import Role, User, UserCreate, UserUpdate
from records.services import auth as auth_svc
from records.services import provisioning
from records.services import users as users_svc

from ...i18n import gettext, ngettext
from ...keys import sessions_key
from ...security import require_actor
from ...validation import INVALID_INPUT, parse
from ..common import PAGE_SIZE, flash, page_offset, pager, parse_id, render, see_other, url
from ..forms import clean_form, error_fields, error_message, form_data
from .common import all_facilities, as_text, facility_options, require_admin

USER_NOT_FOUND = N_("Không tìm thấy người dùng")
USER_FIELDS = (
    "username",
    "full_name",
    "title",
    "role",
    "specialty",
    "email",
    "phone",
    "facility_id",
)
USER_OPTIONAL = ("specialty", "email", "phone")


async def user_list(request: web.Request) -> web.StreamResponse:
    """Users by name, filtered by text, role and facility; disabled accounts included."""
    who = await require_admin(request)
    q = request.query.get("q", "").strip()
    raw_role = request.query.get("role", "")
    role = Role(raw_role) if raw_role in set(Role) else None
    raw_facility = request.query.get("facility_id", "")
    try:
        facility_id = uuid.UUID(raw_facility) if raw_facility else None
    except ValueError:
        facility_id = None
    offset = page_offset(request)
    async with request.app[sessions_key]() as session:
        result = await users_svc.list_users(
            session=session,
            actor=who,
            role=role,
            facility_id=facility_id,
            q=q or None,
            include_inactive=True,
            limit=PAGE_SIZE,
            offset=offset,
        )
    facilities = await all_facilities(request)
    context = {
        "items": result.items,
        "names": {f.id: f.name for f in facilities},
        "facility_options": facility_options(facilities),
        "filters": {"q": q, "role": role or "", "facility_id": raw_facility},
        "page": pager(
            request, offset=offset, limit=PAGE_SIZE, count=len(result.items), total=result.total
        ),
    }
    return await render(request, "admin/users.html", context)


async def _user_new_form(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    context = {
        "values": values,
        "errors": errors or {},
        "error": error,
        "facility_options": facility_options(await all_facilities(request)),
    }
    return await render(request, "admin/user_new.html", context, status=status)


async def user_new(request: web.Request) -> web.StreamResponse:
    """The form for a new account with its first password."""
    await require_admin(request)
    values = as_text(None, USER_FIELDS)
    values["title"] = "BS."
    return await _user_new_form(request, values)


async def user_create(request: web.Request) -> web.StreamResponse:
    """Create an account; a weak password or a taken username is a field error."""
    who = await require_admin(request)
    raw = await form_data(request)
    values = {k: raw.get(k, "").strip() for k in USER_FIELDS}
    password = raw.get("password", "")
    try:
        fields: dict[str, Message] = {}
        if not password:
            fields["password"] = msg("Trường này là bắt buộc")
        data = None
        try:
            data = parse(UserCreate, clean_form(values, USER_OPTIONAL))
        except Invalid as exc:
            fields = {**exc.fields, **fields}
        if fields or data is None:
            raise Invalid(msg(INVALID_INPUT), fields=fields)
        async with request.app[sessions_key]() as session:
            try:
                user = await provisioning.create_user_with_password(
                    session=session, data=data, password=password, actor=who
                )
            except Invalid as exc:
                if exc.fields:
                    raise
                # The password rules speak about the password field.
                raise Invalid(exc.text, fields={"password": exc.text}) from None
    except (Invalid, Conflict) as exc:
        return await _user_new_form(
            request,
            values,
            error_fields(request, exc),
            error_message(request, exc),
            status=409 if isinstance(exc, Conflict) else 400,
        )
    response = see_other(url(request, "admin-user", id=str(user.id)))
    flash(request, response, gettext(request, "Đã tạo tài khoản %(name)s", name=user.username))
    return response


async def _user_page(
    request: web.Request,
    user: User,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    facilities = await all_facilities(request)
    context = {
        "account": user,
        "facility_name": next((f.name for f in facilities if f.id == user.facility_id), ""),
        "values": values or as_text(user, USER_FIELDS),
        "errors": errors or {},
        "error": error,
        "facility_options": facility_options(facilities),
        "is_self": require_actor(request).user_id == user.id,
    }
    return await render(request, "admin/user.html", context, status=status)


async def _get_user(request: web.Request, who: Actor) -> User:
    user_id = parse_id(request.match_info["id"], USER_NOT_FOUND)
    async with request.app[sessions_key]() as session:
        return await users_svc.get_user(session=session, user_id=user_id, actor=who)


async def user_edit(request: web.Request) -> web.StreamResponse:
    """One account: details, role and facility, and the security actions."""
    who = await require_admin(request)
    return await _user_page(request, await _get_user(request, who))


async def user_update(request: web.Request) -> web.StreamResponse:
    """Save an account's details; errors keep what was typed."""
    who = await require_admin(request)
    user = await _get_user(request, who)
    raw = await form_data(request)
    values = as_text(user, USER_FIELDS)
    editable = ("full_name", "title", "role", "specialty", "email", "phone", "facility_id")
    values.update({k: raw.get(k, "").strip() for k in editable})
    try:
        data = parse(UserUpdate, clean_form({k: values[k] for k in editable}, USER_OPTIONAL))
        async with request.app[sessions_key]() as session:
            user = await users_svc.update_user(
                session=session, user_id=user.id, data=data, actor=who
            )
    except (Invalid, Conflict) as exc:
        return await _user_page(
            request,
            user,
            values=values,
            errors=error_fields(request, exc),
            error=error_message(request, exc),
            status=409 if isinstance(exc, Conflict) else 400,
        )
    response = see_other(url(request, "admin-user", id=str(user.id)))
    flash(request, response, gettext(request, "Đã lưu tài khoản"))
    return response


async def user_active(request: web.Request) -> web.StreamResponse:
    """Disable an account (its sessions end at once) or enable it again."""
    who = await require_admin(request)
    user = await _get_user(request, who)
    raw = await form_data(request)
    active = raw.get("active") == "1"
    try:
        async with request.app[sessions_key]() as session:
            await users_svc.set_active(session=session, user_id=user.id, active=active, actor=who)
    except Conflict as exc:
        return await _user_page(request, user, error=error_message(request, exc), status=409)
    response = see_other(url(request, "admin-user", id=str(user.id)))
    if active:
        flash(request, response, gettext(request, "Đã mở lại tài khoản"))
    else:
        message = gettext(request, "Đã khóa tài khoản và kết thúc mọi phiên đăng nhập")
        flash(request, response, message)
    return response


async def user_password(request: web.Request) -> web.StreamResponse:
    """Set a new password; every session and token of the user ends."""
    who = await require_admin(request)
    user = await _get_user(request, who)
    raw = await form_data(request)
    password = raw.get("new_password", "")
    try:
        if not password:
            raise Invalid(
                msg("Trường này là bắt buộc"),
                fields={"new_password": msg("Trường này là bắt buộc")},
            )
        async with request.app[sessions_key]() as session:
            await auth_svc.reset_password(
                session=session, user_id=user.id, new_password=password, actor=who
            )
    except Invalid as exc:
        return await _user_page(
            request,
            user,
            errors=error_fields(request, exc),
            error=error_message(request, exc),
            status=400,
        )
    response = see_other(url(request, "admin-user", id=str(user.id)))
    message = gettext(request, "Đã đặt lại mật khẩu. Mọi phiên đăng nhập đã kết thúc")
    flash(request, response, message)
    return response


async def user_sessions(request: web.Request) -> web.StreamResponse:
    """Sign the user out everywhere: browser sessions and API tokens."""
    who = await require_admin(request)
    user = await _get_user(request, who)
    async with request.app[sessions_key]() as session:
        count = await auth_svc.end_all_sessions(session=session, user_id=user.id, actor=who)
    response = see_other(url(request, "admin-user", id=str(user.id)))
    flash(
        request,
        response,
        ngettext(
            request,
            "Đã kết thúc %(num)d phiên đăng nhập",
            "Đã kết thúc %(num)d phiên đăng nhập",
            count,
        ),
    )
    return response


async def user_unlock(request: web.Request) -> web.StreamResponse:
    """Lift the lock that repeated failed sign-ins put on the account."""
    who = await require_admin(request)
    user = await _get_user(request, who)
    async with request.app[sessions_key]() as session:
        await auth_svc.unlock_user(session=session, user_id=user.id, actor=who)
    response = see_other(url(request, "admin-user", id=str(user.id)))
    flash(request, response, gettext(request, "Đã mở khóa đăng nhập"))
    return response


def add_routes(app: web.Application) -> None:
    """Register the user account screens."""
    r = app.router
    r.add_get("/admin/users", user_list, name="admin-users")
    r.add_get("/admin/users/new", user_new, name="admin-user-new")
    r.add_post("/admin/users/new", user_create, name="admin-user-create")
    r.add_get("/admin/users/{id}", user_edit, name="admin-user")
    r.add_post("/admin/users/{id}", user_update, name="admin-user-update")
    r.add_post("/admin/users/{id}/active", user_active, name="admin-user-active")
    r.add_post("/admin/users/{id}/password", user_password, name="admin-user-password")
    r.add_post("/admin/users/{id}/sessions", user_sessions, name="admin-user-sessions")
    r.add_post("/admin/users/{id}/unlock", user_unlock, name="admin-user-unlock")
