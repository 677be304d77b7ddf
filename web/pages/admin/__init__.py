"""Administration, one module per area: facilities on the referral line, user accounts, and
the audit log; ``common`` holds the admin check the three share."""

from __future__ import annotations

from aiohttp import web

from records.messages import N_
from records.models import Role

from ..common import NavItem, add_nav, see_other, url
from . import archives, audit, facilities, users
from .common import require_admin

ADMINS = frozenset({Role.admin})


async def index(request: web.Request) -> web.StreamResponse:
    """The administration starts with the users."""
    await require_admin(request)
    raise see_other(url(request, "admin-users"))


def add_routes(app: web.Application) -> None:
    """Register the administration pages and their links."""
    app.router.add_get("/admin", index, name="admin")
    facilities.add_routes(app)
    users.add_routes(app)
    audit.add_routes(app)
    archives.add_routes(app)
    add_nav(app, NavItem("admin-users", N_("Người dùng"), ADMINS, order=80))
    add_nav(app, NavItem("admin-facilities", N_("Cơ sở y tế"), ADMINS, order=81))
    add_nav(app, NavItem("admin-audit", N_("Nhật ký truy cập"), ADMINS, order=82))
    add_nav(app, NavItem("admin-archives", N_("Lưu trữ"), ADMINS, order=83))
