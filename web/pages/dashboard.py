"""The activity dashboard for admins and coordinators: figures per facility and month with
charts drawn on the server (SVG, with the same numbers as a table), a CSV export, and the list
of consultations behind each figure."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pygal
from aiohttp import web
from pygal.style import Style

from records.errors import Invalid
from records.messages import N_
from records.models import Facility, Role
from records.services import activity as activity_svc
from records.services import facilities as facilities_svc
from records.services.activity_filters import (
    Activity,
    ActivityFilter,
    Figure,
    MonthFigures,
    Period,
)

from ..i18n import gettext, localizer
from ..keys import config_key, sessions_key
from ..security import require_actor
from .common import PAGE_SIZE, NavItem, add_nav, page_offset, pager, render, url

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
# pygal always embeds its configuration for the interactive script; an image runs no script.
_SCRIPT_RE = re.compile(r"<script\b.*?</script>", re.DOTALL)
# An SVG image is a document of its own: it may style itself and do nothing else.
_SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_CHART_STYLE = Style(
    background="white",
    plot_background="white",
    font_family="DejaVu Sans, Liberation Sans, sans-serif",
    colors=("#1f5fa8", "#2e8540", "#b3261e", "#c77c02", "#6b4fbb"),
)


@dataclass
class Query:
    """The dashboard's filter as typed, and what it means."""

    typed: dict[str, str]
    errors: dict[str, str]
    flt: ActivityFilter


def _month(text: str) -> date | None:
    m = _MONTH_RE.match(text)
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        return None
    return date(int(m.group(1)), int(m.group(2)), 1)


def _query(request: web.Request) -> Query:
    """Read the filter; a mistake falls back to the default and says why under its field."""
    names = ("since", "until", "facility", "specialty")
    typed = {k: request.query.get(k, "").strip() for k in names}
    errors: dict[str, str] = {}
    default = Period.last_months()
    first, last = default.first, default.last
    for name in ("since", "until"):
        if typed[name]:
            month = _month(typed[name])
            if month is None:
                errors[name] = gettext(request, "Tháng không hợp lệ (năm-tháng, ví dụ 2026-03)")
            elif name == "since":
                first = month
            else:
                last = month
    if typed["since"] and not typed["until"] and "since" not in errors:
        last = max(first, last)
    facility_id = None
    if typed["facility"]:
        try:
            facility_id = uuid.UUID(typed["facility"])
        except ValueError:
            errors["facility"] = gettext(request, "Mã định danh không hợp lệ")
    specialty = typed["specialty"] or None
    target = timedelta(minutes=request.app[config_key].emergency_delay_minutes)
    try:
        period = Period(first, last)
    except Invalid as err:
        lz = localizer(request)
        for name, problem in (err.fields or {"since": err.text}).items():
            errors.setdefault(name, lz.message(problem))
        period = default
    flt = ActivityFilter(
        period,
        facility_id=facility_id,
        specialty=specialty[:100] if specialty else None,
        emergency_target=target,
    )
    return Query(typed, errors, flt)


def _filter_query(q: Query) -> dict[str, str]:
    """The filter as query parameters, for links that keep it."""
    flt = q.flt
    out = {"since": flt.period.months()[0], "until": flt.period.months()[-1]}
    if flt.facility_id is not None:
        out["facility"] = str(flt.facility_id)
    if flt.specialty:
        out["specialty"] = flt.specialty
    return out


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _by_month(result: Activity) -> list[MonthFigures]:
    """The counts of every facility summed per month (a row for every month of the period)."""
    rows = {m: MonthFigures(facility_id=uuid.UUID(int=0), month=m) for m in result.months}
    for r in result.rows:
        total = rows[r.month]
        for name in ("requested", "held", "cancelled", "emergency", "emergency_on_target"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    return list(rows.values())


async def _load(request: web.Request, q: Query) -> tuple[Activity, dict[uuid.UUID, Facility]]:
    who = require_actor(request)
    async with request.app[sessions_key]() as session:
        result = await activity_svc.activity(session=session, actor=who, flt=q.flt)
        places = await facilities_svc.list_facilities(session=session, limit=200)
    return result, {f.id: f for f in places.items}


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    """Figures per facility and month, two charts, the filter and the links behind figures."""
    q = _query(request)
    result, places = await _load(request, q)
    keep = _filter_query(q)
    context: dict[str, Any] = {
        "values": q.typed | {k: v for k, v in keep.items() if k in ("since", "until")},
        "errors": q.errors,
        "result": result,
        "totals": result.totals(),
        "months": _by_month(result),
        "places": places,
        "facility_options": [(str(f.id), f.name) for f in places.values()],
        "specialty_options": [(name, name) for name, _ in result.specialties],
        "hours": _hours,
        "chart_months": url(request, "dashboard-chart", chart="months", query=keep),
        "chart_specialties": url(request, "dashboard-chart", chart="specialties", query=keep),
        "csv_url": url(request, "dashboard-csv", query=keep),
        "behind": lambda figure, **extra: url(
            request, "dashboard-list", query=keep | {"figure": figure} | extra
        ),
        "target_minutes": int(q.flt.emergency_target.total_seconds() // 60),
    }
    return await render(request, "dashboard/index.html", context, status=400 if q.errors else 200)


def _counts_axis(top: int) -> list[int]:
    """Whole-number ticks up to at least ``top`` (counts have no fractions)."""
    step = max(1, -(-top // 8))
    return list(range(0, max(top, 1) + step, step))


async def chart(request: web.Request) -> web.StreamResponse:
    """One chart of the dashboard as an SVG image."""
    q = _query(request)
    result, _ = await _load(request, q)
    kind = request.match_info["chart"]
    config: dict[str, Any] = {
        "style": _CHART_STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "width": 760,
        "height": 320,
        "legend_at_bottom": True,
        "print_values": False,
    }
    if kind == "months":
        months = _by_month(result)
        drawn: Any = pygal.Bar(**config, x_label_rotation=30)
        drawn.title = gettext(request, "Yêu cầu hội chẩn theo tháng")
        drawn.x_labels = [m.month for m in months]
        drawn.y_labels = _counts_axis(max((m.requested for m in months), default=0))
        drawn.add(gettext(request, "Đã yêu cầu"), [m.requested for m in months])
        drawn.add(gettext(request, "Đã hội chẩn"), [m.held for m in months])
        drawn.add(gettext(request, "Đã hủy"), [m.cancelled for m in months])
    elif kind == "specialties":
        drawn = pygal.HorizontalBar(**config, show_legend=False)
        drawn.title = gettext(request, "Chuyên khoa được yêu cầu")
        top = result.specialties[:12]
        drawn.x_labels = [name for name, _ in top]
        drawn.y_labels = _counts_axis(max((n for _, n in top), default=0))
        drawn.add(gettext(request, "Số phiên"), [n for _, n in top])
    else:
        raise web.HTTPNotFound()
    svg = _SCRIPT_RE.sub("", drawn.render(is_unicode=True))
    return web.Response(
        text=svg,
        content_type="image/svg+xml",
        headers={"Content-Security-Policy": _SVG_CSP, "Cache-Control": "no-store"},
    )


async def csv_export(request: web.Request) -> web.StreamResponse:
    """The figures per facility and month as CSV (UTF-8 with BOM, for Excel)."""
    q = _query(request)
    result, places = await _load(request, q)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        [
            gettext(request, "Tháng"),
            gettext(request, "Cơ sở yêu cầu"),
            gettext(request, "Đã yêu cầu"),
            gettext(request, "Đã hội chẩn"),
            gettext(request, "Đã hủy"),
            gettext(request, "Cấp cứu"),
            gettext(request, "Cấp cứu xếp lịch đúng hạn"),
            gettext(request, "Chờ đến phiên, trung vị (giờ)"),
            gettext(request, "Chờ đến phiên, P90 (giờ)"),
            gettext(request, "Đến biên bản, trung vị (giờ)"),
            gettext(request, "Đến biên bản, P90 (giờ)"),
            gettext(request, "Người tham dự"),
        ]
    )
    for r in result.rows:
        place = places.get(r.facility_id)
        writer.writerow(
            [
                r.month,
                place.name if place else str(r.facility_id),
                r.requested,
                r.held,
                r.cancelled,
                r.emergency,
                r.emergency_on_target,
                _hours(r.to_session_median_h),
                _hours(r.to_session_p90_h),
                _hours(r.to_minutes_median_h),
                _hours(r.to_minutes_p90_h),
                r.attendees,
            ]
        )
    return web.Response(
        body=out.getvalue().encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="telemed-hoat-dong.csv"'},
    )


async def list_page(request: web.Request) -> web.StreamResponse:
    """The consultations a figure counts."""
    who = require_actor(request)
    q = _query(request)
    try:
        figure = Figure(request.query.get("figure", "requested"))
    except ValueError:
        figure = Figure.requested
        q.errors["figure"] = gettext(request, "Giá trị không hợp lệ")
    month = request.query.get("month") or None
    offset = page_offset(request)
    async with request.app[sessions_key]() as session:
        rows, total = await activity_svc.behind(
            session=session,
            actor=who,
            flt=q.flt,
            figure=figure,
            month=month,
            limit=PAGE_SIZE,
            offset=offset,
        )
        page = await facilities_svc.list_facilities(session=session, limit=200)
        places = {f.id: f for f in page.items}
    context = {
        "rows": rows,
        "total": total,
        "figure": figure,
        "month": month,
        "places": places,
        "back": url(request, "dashboard", query=_filter_query(q)),
        "page": pager(request, offset=offset, limit=PAGE_SIZE, count=len(rows), total=total),
    }
    return await render(request, "dashboard/list.html", context)


def add_routes(app: web.Application) -> None:
    """Register the dashboard."""
    app.router.add_get("/dashboard", dashboard_page, name="dashboard")
    app.router.add_get("/dashboard/list", list_page, name="dashboard-list")
    app.router.add_get("/dashboard/activity.csv", csv_export, name="dashboard-csv")
    app.router.add_get("/dashboard/charts/{chart}.svg", chart, name="dashboard-chart")
    add_nav(
        app,
        NavItem(
            "dashboard",
            N_("Thống kê"),
            frozenset({Role.admin, Role.coordinator}),
            order=70,
        ),
    )
