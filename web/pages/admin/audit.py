"""The audit log for admins: events filtered by person, patient, day and action; CSV export."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web

from records import audit as audit_svc
from records import audit_log
from records.localtime import LOCAL_TZ
from records.services import audit_names
from records.services import users as users_svc

from ...i18n import gettext
from ...keys import sessions_key
from ..common import PAGE_SIZE, page_offset, pager, render, url
from ..forms import parse_local_date
from .common import require_admin


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
    who = await require_admin(request)
    filters, typed, errors = _audit_filters(request)
    offset = page_offset(request)
    async with request.app[sessions_key]() as session:
        result = await audit_log.list_events(
            session=session, actor=who, limit=PAGE_SIZE, offset=offset, **filters
        )
        names = await audit_names.names_for(session=session, actor=who, events=result.items)
        people = await users_svc.list_users(
            session=session, actor=who, include_inactive=True, limit=200
        )
    csv_query = {
        k: (v.isoformat() if isinstance(v, datetime) else str(v)) for k, v in filters.items()
    }
    context = {
        "events": result.items,
        "names": names,
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
    """Register the audit log screen."""
    app.router.add_get("/admin/audit", audit_page, name="admin-audit")
