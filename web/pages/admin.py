"""Administration: facilities on the referral line, user accounts, and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from records import access
from records import audit as audit_svc
from records.actor import Actor
from records.errors import Conflict, Invalid, RecordsError
from records.localtime import LOCAL_TZ
from records.messages import N_, Message, msg
from records.models import (
    Facility,
    FacilityCreate,
    FacilityLevel,
    FacilityUpdate,
    Role,
    User,
    UserCreate,
    UserUpdate,
)
from records.services import auth as auth_svc
from records.services import facilities as facilities_svc
from records.services import provisioning
from records.services import users as users_svc

from ..i18n import gettext, ngettext
from ..keys import sessions_key
from ..security import require_actor
from ..validation import INVALID_INPUT, parse
from .common import (
    PAGE_SIZE,
    NavItem,
    add_nav,
    flash,
    page_offset,
    pager,
    parse_id,
    render,
    see_other,
    url,
)
from .forms import clean_form, error_fields, error_message, form_data, parse_local_date

ADMINS = frozenset({Role.admin})
USER_NOT_FOUND = N_("Không tìm thấy người dùng")
FACILITY_NOT_FOUND = N_("Không tìm thấy cơ sở y tế")


# What an administration screen is about, by the first path segment after /admin/.
_ADMIN_OBJECTS = {"facilities": "facility", "users": "user", "audit": "audit"}


async def _admin(request: web.Request) -> Actor:
    """The signed-in admin; anyone else is refused with Forbidden, and the refusal audited."""
    who = require_actor(request)
    segment = request.path.removeprefix("/admin").strip("/").partition("/")[0]
    async with request.app[sessions_key]() as session:
        await access.require_admin(
            session,
            actor=who,
            object_type=_ADMIN_OBJECTS.get(segment, "admin"),
            object_id=request.match_info.get("id"),
        )
    return who


def _errors(request: web.Request, exc: RecordsError) -> dict[str, str]:
    return error_fields(request, exc)


def _as_text(model: BaseModel | None, names: tuple[str, ...]) -> dict[str, str]:
    if model is None:
        return dict.fromkeys(names, "")
    return {n: "" if getattr(model, n, None) is None else str(getattr(model, n)) for n in names}


async def _facilities(request: web.Request) -> list[Facility]:
    async with request.app[sessions_key]() as session:
        return (await facilities_svc.list_facilities(session=session, limit=200)).items


def _facility_options(facilities: list[Facility], skip: uuid.UUID | None = None) -> list[Any]:
    return [(str(f.id), f"{f.name} ({f.code})") for f in facilities if f.id != skip]


async def index(request: web.Request) -> web.StreamResponse:
    """The administration starts with the users."""
    await _admin(request)
    raise see_other(url(request, "admin-users"))


# Facilities ---------------------------------------------------------------------------------------

FACILITY_FIELDS = ("code", "name", "level", "address", "parent_id")


async def facility_list(request: web.Request) -> web.StreamResponse:
    """Every facility, highest level first, with its parent on the referral line."""
    await _admin(request)
    q = request.query.get("q", "").strip()
    raw_level = request.query.get("level", "")
    level = FacilityLevel(raw_level) if raw_level in set(FacilityLevel) else None
    offset = page_offset(request)
    async with request.app[sessions_key]() as session:
        result = await facilities_svc.list_facilities(
            session=session, level=level, q=q or None, limit=PAGE_SIZE, offset=offset
        )
        everything = await facilities_svc.list_facilities(session=session, limit=200)
    names = {f.id: f.name for f in everything.items}
    context = {
        "items": result.items,
        "names": names,
        "q": q,
        "level": level or "",
        "page": pager(
            request, offset=offset, limit=PAGE_SIZE, count=len(result.items), total=result.total
        ),
    }
    return await render(request, "admin/facilities.html", context)


async def _facility_form(
    request: web.Request,
    *,
    facility: Facility | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    facilities = await _facilities(request)
    context = {
        "facility": facility,
        "values": values,
        "errors": errors or {},
        "error": error,
        "parent_options": _facility_options(facilities, facility.id if facility else None),
    }
    return await render(request, "admin/facility_form.html", context, status=status)


async def facility_new(request: web.Request) -> web.StreamResponse:
    """The form for a new facility."""
    await _admin(request)
    return await _facility_form(request, facility=None, values=_as_text(None, FACILITY_FIELDS))


async def facility_create(request: web.Request) -> web.StreamResponse:
    """Create a facility; a duplicate code or a parent not higher up is a field error."""
    who = await _admin(request)
    raw = await form_data(request)
    values = {k: raw.get(k, "").strip() for k in FACILITY_FIELDS}
    try:
        data = parse(FacilityCreate, clean_form(values, ("address", "parent_id")))
        async with request.app[sessions_key]() as session:
            facility = await facilities_svc.create_facility(session=session, data=data, actor=who)
    except (Invalid, Conflict) as exc:
        return await _facility_form(
            request,
            facility=None,
            values=values,
            errors=_errors(request, exc),
            error=error_message(request, exc),
            status=409 if isinstance(exc, Conflict) else 400,
        )
    response = see_other(url(request, "admin-facilities"))
    flash(request, response, gettext(request, "Đã thêm cơ sở %(name)s", name=facility.name))
    return response


async def facility_edit(request: web.Request) -> web.StreamResponse:
    """The form for changing a facility's name, address and parent."""
    await _admin(request)
    facility_id = parse_id(request.match_info["id"], FACILITY_NOT_FOUND)
    async with request.app[sessions_key]() as session:
        facility = await facilities_svc.get_facility(session=session, facility_id=facility_id)
    return await _facility_form(
        request, facility=facility, values=_as_text(facility, FACILITY_FIELDS)
    )


async def facility_update(request: web.Request) -> web.StreamResponse:
    """Save a facility; its code and level stay as they were created."""
    who = await _admin(request)
    facility_id = parse_id(request.match_info["id"], FACILITY_NOT_FOUND)
    raw = await form_data(request)
    async with request.app[sessions_key]() as session:
        facility = await facilities_svc.get_facility(session=session, facility_id=facility_id)
    values = _as_text(facility, FACILITY_FIELDS)
    values.update({k: raw.get(k, "").strip() for k in ("name", "address", "parent_id")})
    try:
        data = parse(
            FacilityUpdate,
            clean_form(
                {k: values[k] for k in ("name", "address", "parent_id")}, ("address", "parent_id")
            ),
        )
        async with request.app[sessions_key]() as session:
            await facilities_svc.update_facility(
                session=session, facility_id=facility_id, data=data, actor=who
            )
    except (Invalid, Conflict) as exc:
        return await _facility_form(
            request,
            facility=facility,
            values=values,
            errors=_errors(request, exc),
            error=error_message(request, exc),
            status=409 if isinstance(exc, Conflict) else 400,
        )
    response = see_other(url(request, "admin-facilities"))
    flash(request, response, gettext(request, "Đã lưu cơ sở %(name)s", name=values["name"]))
    return response


# Users --------------------------------------------------------------------------------------------

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
    who = await _admin(request)
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
    facilities = await _facilities(request)
    context = {
        "items": result.items,
        "names": {f.id: f.name for f in facilities},
        "facility_options": _facility_options(facilities),
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
        "facility_options": _facility_options(await _facilities(request)),
    }
    return await render(request, "admin/user_new.html", context, status=status)


async def user_new(request: web.Request) -> web.StreamResponse:
    """The form for a new account with its first password."""
    await _admin(request)
    values = _as_text(None, USER_FIELDS)
    values["title"] = "BS."
    return await _user_new_form(request, values)


async def user_create(request: web.Request) -> web.StreamResponse:
    """Create an account; a weak password or a taken username is a field error."""
    who = await _admin(request)
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
            _errors(request, exc),
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
    facilities = await _facilities(request)
    context = {
        "account": user,
        "facility_name": next((f.name for f in facilities if f.id == user.facility_id), ""),
        "values": values or _as_text(user, USER_FIELDS),
        "errors": errors or {},
        "error": error,
        "facility_options": _facility_options(facilities),
        "is_self": require_actor(request).user_id == user.id,
    }
    return await render(request, "admin/user.html", context, status=status)


async def _get_user(request: web.Request, who: Actor) -> User:
    user_id = parse_id(request.match_info["id"], USER_NOT_FOUND)
    async with request.app[sessions_key]() as session:
        return await users_svc.get_user(session=session, user_id=user_id, actor=who)


async def user_edit(request: web.Request) -> web.StreamResponse:
    """One account: details, role and facility, and the security actions."""
    who = await _admin(request)
    return await _user_page(request, await _get_user(request, who))


async def user_update(request: web.Request) -> web.StreamResponse:
    """Save an account's details; errors keep what was typed."""
    who = await _admin(request)
    user = await _get_user(request, who)
    raw = await form_data(request)
    values = _as_text(user, USER_FIELDS)
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
            errors=_errors(request, exc),
            error=error_message(request, exc),
            status=409 if isinstance(exc, Conflict) else 400,
        )
    response = see_other(url(request, "admin-user", id=str(user.id)))
    flash(request, response, gettext(request, "Đã lưu tài khoản"))
    return response


async def user_active(request: web.Request) -> web.StreamResponse:
    """Disable an account (its sessions end at once) or enable it again."""
    who = await _admin(request)
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
    who = await _admin(request)
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
            errors=_errors(request, exc),
            error=error_message(request, exc),
            status=400,
        )
    response = see_other(url(request, "admin-user", id=str(user.id)))
    message = gettext(request, "Đã đặt lại mật khẩu. Mọi phiên đăng nhập đã kết thúc")
    flash(request, response, message)
    return response


async def user_sessions(request: web.Request) -> web.StreamResponse:
    """Sign the user out everywhere: browser sessions and API tokens."""
    who = await _admin(request)
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
    who = await _admin(request)
    user = await _get_user(request, who)
    async with request.app[sessions_key]() as session:
        await auth_svc.unlock_user(session=session, user_id=user.id, actor=who)
    response = see_other(url(request, "admin-user", id=str(user.id)))
    flash(request, response, gettext(request, "Đã mở khóa đăng nhập"))
    return response


# Audit log ----------------------------------------------------------------------------------------


def _audit_filters(request: web.Request) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """Service filters, the values typed (to show back) and field errors."""
    typed = {
        k: request.query.get(k, "").strip()
        for k in ("user_id", "patient_id", "since", "until", "action")
    }
    errors: dict[str, str] = {}
    filters: dict[str, Any] = {}
    for name in ("user_id", "patient_id"):
        if typed[name]:
            try:
                filters[name] = uuid.UUID(typed[name])
            except ValueError:
                errors[name] = gettext(request, "Mã định danh không hợp lệ")
    for name in ("since", "until"):
        if typed[name]:
            day = parse_local_date(typed[name])
            if day is None:
                errors[name] = gettext(request, "Ngày không hợp lệ (ngày/tháng/năm)")
                continue
            start = datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
            # "Until" a day includes that whole day.
            filters[name] = start + timedelta(days=1) if name == "until" else start
    if typed["action"]:
        if typed["action"] in audit_svc.ACTIONS:
            filters["action"] = typed["action"]
        else:
            errors["action"] = gettext(request, "Giá trị không hợp lệ")
    return filters, typed, errors


async def audit_page(request: web.Request) -> web.StreamResponse:
    """Audit events, newest first, filtered by person, patient, day and action; CSV export."""
    who = await _admin(request)
    filters, typed, errors = _audit_filters(request)
    offset = page_offset(request)
    async with request.app[sessions_key]() as session:
        result = await audit_svc.list_events(
            session=session, actor=who, limit=PAGE_SIZE, offset=offset, **filters
        )
        people = await users_svc.list_users(
            session=session, actor=who, include_inactive=True, limit=200
        )
    csv_query = {
        k: (v.isoformat() if isinstance(v, datetime) else str(v)) for k, v in filters.items()
    }
    context = {
        "events": result.items,
        "values": typed,
        "errors": errors,
        "user_options": [(str(u.id), f"{u.display_name} ({u.username})") for u in people.items],
        "csv_url": url(request, "api-audit-csv", query=csv_query),
        "page": pager(
            request, offset=offset, limit=PAGE_SIZE, count=len(result.items), total=result.total
        ),
    }
    return await render(request, "admin/audit.html", context, status=400 if errors else 200)


def add_routes(app: web.Application) -> None:
    """Register the administration pages."""
    r = app.router
    r.add_get("/admin", index, name="admin")
    r.add_get("/admin/facilities", facility_list, name="admin-facilities")
    r.add_get("/admin/facilities/new", facility_new, name="admin-facility-new")
    r.add_post("/admin/facilities/new", facility_create, name="admin-facility-create")
    r.add_get("/admin/facilities/{id}", facility_edit, name="admin-facility")
    r.add_post("/admin/facilities/{id}", facility_update, name="admin-facility-update")
    r.add_get("/admin/users", user_list, name="admin-users")
    r.add_get("/admin/users/new", user_new, name="admin-user-new")
    r.add_post("/admin/users/new", user_create, name="admin-user-create")
    r.add_get("/admin/users/{id}", user_edit, name="admin-user")
    r.add_post("/admin/users/{id}", user_update, name="admin-user-update")
    r.add_post("/admin/users/{id}/active", user_active, name="admin-user-active")
    r.add_post("/admin/users/{id}/password", user_password, name="admin-user-password")
    r.add_post("/admin/users/{id}/sessions", user_sessions, name="admin-user-sessions")
    r.add_post("/admin/users/{id}/unlock", user_unlock, name="admin-user-unlock")
    r.add_get("/admin/audit", audit_page, name="admin-audit")
    add_nav(app, NavItem("admin-users", N_("Người dùng"), ADMINS, order=80))
    add_nav(app, NavItem("admin-facilities", N_("Cơ sở y tế"), ADMINS, order=81))
    add_nav(app, NavItem("admin-audit", N_("Nhật ký truy cập"), ADMINS, order=82))
