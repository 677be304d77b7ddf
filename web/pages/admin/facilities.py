"""Facilities on the referral line: the list, a new facility, and changes to one."""

from __future__ import annotations

from aiohttp import web

from records.errors import Conflict, Invalid
from records.messages import N_
from records.models import Facility, FacilityCreate, FacilityLevel, FacilityUpdate
from records.services import facilities as facilities_svc

from ...i18n import gettext
from ...keys import sessions_key
from ...validation import parse
from ..common import PAGE_SIZE, flash, page_offset, pager, parse_id, render, see_other, url
from ..forms import clean_form, error_fields, error_message, form_data
from .common import all_facilities, as_text, facility_options, require_admin

FACILITY_NOT_FOUND = N_("Không tìm thấy cơ sở y tế")
FACILITY_FIELDS = ("code", "name", "level", "address", "governing_body", "parent_id")


async def facility_list(request: web.Request) -> web.StreamResponse:
    """Every facility, highest level first, with its parent on the referral line."""
    await require_admin(request)
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
    facilities = await all_facilities(request)
    context = {
        "facility": facility,
        "values": values,
        "errors": errors or {},
        "error": error,
        "parent_options": facility_options(facilities, facility.id if facility else None),
    }
    return await render(request, "admin/facility_form.html", context, status=status)


async def facility_new(request: web.Request) -> web.StreamResponse:
    """The form for a new facility."""
    await require_admin(request)
    return await _facility_form(request, facility=None, values=as_text(None, FACILITY_FIELDS))


async def facility_create(request: web.Request) -> web.StreamResponse:
    """Create a facility; a duplicate code or a parent not higher up is a field error."""
    who = await require_admin(request)
    raw = await form_data(request)
    values = {k: raw.get(k, "").strip() for k in FACILITY_FIELDS}
    try:
        data = parse(FacilityCreate, clean_form(values, ("address", "governing_body", "parent_id")))
        async with request.app[sessions_key]() as session:
            facility = await facilities_svc.create_facility(session=session, data=data, actor=who)
    except (Invalid, Conflict) as exc:
        return await _facility_form(
            request,
            facility=None,
            values=values,
            errors=error_fields(request, exc),
            error=error_message(request, exc),
            status=409 if isinstance(exc, Conflict) else 400,
        )
    response = see_other(url(request, "admin-facilities"))
    flash(request, response, gettext(request, "Đã thêm cơ sở %(name)s", name=facility.name))
    return response


async def facility_edit(request: web.Request) -> web.StreamResponse:
    """The form for changing a facility's name, address and parent."""
    await require_admin(request)
    facility_id = parse_id(request.match_info["id"], FACILITY_NOT_FOUND)
    async with request.app[sessions_key]() as session:
        facility = await facilities_svc.get_facility(session=session, facility_id=facility_id)
    return await _facility_form(
        request, facility=facility, values=as_text(facility, FACILITY_FIELDS)
    )


async def facility_update(request: web.Request) -> web.StreamResponse:
    """Save a facility; its code and level stay as they were created."""
    who = await require_admin(request)
    facility_id = parse_id(request.match_info["id"], FACILITY_NOT_FOUND)
    raw = await form_data(request)
    async with request.app[sessions_key]() as session:
        facility = await facilities_svc.get_facility(session=session, facility_id=facility_id)
    values = as_text(facility, FACILITY_FIELDS)
    editable = ("name", "address", "governing_body", "parent_id")
    values.update({k: raw.get(k, "").strip() for k in editable})
    try:
        data = parse(
            FacilityUpdate,
            clean_form(
                {k: values[k] for k in editable}, ("address", "governing_body", "parent_id")
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
            errors=error_fields(request, exc),
            error=error_message(request, exc),
            status=409 if isinstance(exc, Conflict) else 400,
        )
    response = see_other(url(request, "admin-facilities"))
    flash(request, response, gettext(request, "Đã lưu cơ sở %(name)s", name=values["name"]))
    return response


def add_routes(app: web.Application) -> None:
    """Register the facility screens."""
    r = app.router
    r.add_get("/admin/facilities", facility_list, name="admin-facilities")
    r.add_get("/admin/facilities/new", facility_new, name="admin-facility-new")
    r.add_post("/admin/facilities/new", facility_create, name="admin-facility-create")
    r.add_get("/admin/facilities/{id}", facility_edit, name="admin-facility")
    r.add_post("/admin/facilities/{id}", facility_update, name="admin-facility-update")
