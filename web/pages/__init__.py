"""Server-rendered pages: templates, translations, static files and the page modules.

Each page module exposes ``add_routes(app)`` and is listed in :data:`PAGE_MODULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from types import ModuleType

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ..errors import html_error_key
from ..i18n import LANG_COOKIE, LANGUAGES, format_filesize, format_value, setup_i18n
from . import (
    admin,
    attachments,
    auth,
    cases,
    consultations,
    dashboard,
    home,
    minutes,
    nettest,
    notifications,
    outcomes,
    patients,
    room,
    schedule,
    thread,
)
from .common import clear_flash, safe_next
from .errors import render_error

WEB_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Every page area; each registers its routes (and navigation links) on the application.
PAGE_MODULES: tuple[ModuleType, ...] = (
    auth,
    home,
    patients,
    cases,
    attachments,
    room,
    consultations,
    schedule,
    minutes,
    dashboard,
    outcomes,
    admin,
    nettest,
    notifications,
    thread,
)

DATE_STYLES = ("date", "time", "datetime", "long_date", "long_datetime", "day_month")


def _date_filter(style: str) -> Callable[..., str]:
    @jinja2.pass_context
    def fmt(context: jinja2.runtime.Context, value: datetime | date | time | None) -> str:
        return format_value(value, str(context.get("lang") or "vi"), style)

    return fmt


@jinja2.pass_context
def _static_url(context: jinja2.runtime.Context, path: str) -> str:
    app: web.Application = context["app"]
    return str(app.router["static"].url_for(filename=path))


@jinja2.pass_context
def _filesize(context: jinja2.runtime.Context, value: int | float, binary: bool = True) -> str:
    return format_filesize(value, str(context.get("lang") or "vi"))


def _isoformat(value: datetime | date | None) -> str:
    return value.isoformat() if value is not None else ""


async def set_language(request: web.Request) -> web.StreamResponse:
    """Remember the chosen language in a cookie and go back to the page the user was on."""
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPNotFound()
    response = web.HTTPSeeOther(safe_next(request.query.get("next")))
    response.set_cookie(
        LANG_COOKIE, lang, path="/", max_age=365 * 24 * 3600, samesite="Lax", httponly=True
    )
    return response


def setup_pages(app: web.Application) -> None:
    """Templates, translations, static files, error pages and every page module's routes."""
    setup_i18n(app)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(("html", "xml"), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = _static_url
    for style in DATE_STYLES:
        env.filters[style] = _date_filter(style)
    env.filters["isoformat"] = _isoformat
    # Sizes in the reader's language (1,5 MB), in place of Jinja's English-only filter.
    env.filters["filesizeformat"] = _filesize
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)
    app.router.add_get("/lang/{lang}", set_language, name="set-language")
    app[html_error_key] = render_error
    app.on_response_prepare.append(clear_flash)
    for module in PAGE_MODULES:
        module.add_routes(app)
