"""What every page shares: rendering with the base context, navigation, flash messages, forms.

Page modules call :func:`render`, which adds the base context, and build URLs with
:func:`url`. Templates get ``_``, ``ngettext``, ``lang``, ``user``, ``role``, ``facility``,
``csrf_token``, ``csp_nonce``, ``flashes``, ``nav``, ``static_url``, ``url``, the date filters
(``|datetime``, ``|date``, ``|time``, ``|long_date``…), and ``label(vocabulary, value)`` and
``choices(vocabulary)`` for the names of statuses, roles and kinds (``records.vocabulary``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import hdrs, web

from records import access, identity
from records.actor import Actor
from records.errors import NotFound, RecordsError
from records.messages import N_, msg
from records.models import Facility, Role, User
from records.services import facilities as facilities_svc
from records.services import notifications as notifications_svc

from ..headers import csp_nonce
from ..i18n import LANGUAGE_NAMES, LANGUAGES, localizer
from ..keys import config_key, sessions_key
from ..security import actor_key, csrf_token, user_key

FLASH_COOKIE = "telemed_flash"
FLASH_KINDS = ("success", "info", "warning", "error")
# Pages that carry no user data; everything else is answered by the pages.
_NOT_PAGES = ("/api/", "/ws/", "/static/")


@dataclass(frozen=True)
class NavItem:
    """One link of the main navigation: a named route, a message id, who sees it."""

    route: str
    label: str
    roles: frozenset[Role] = field(default_factory=lambda: frozenset(Role))
    order: int = 50


nav_key = web.AppKey("page_nav", list[NavItem])


def add_nav(app: web.Application, item: NavItem) -> None:
    """Add a link to the main navigation (call from a page module's ``add_routes``)."""
    if nav_key not in app:
        app[nav_key] = []
    app[nav_key].append(item)


def url(
    request: web.Request, name: str, query: Mapping[str, str] | None = None, **parts: str
) -> str:
    """The path of a named route, with an optional query string."""
    built = request.app.router[name].url_for(**parts)
    if query:
        built = built.with_query(dict(query))
    return str(built)


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to after a form; anything else (another site) becomes default."""
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value:
        return default
    return value


def see_other(location: str) -> web.HTTPSeeOther:
    """A redirect after a successful form post (303, so a reload does not post again)."""
    return web.HTTPSeeOther(location)


def parse_id(value: str, message: str = N_("Không tìm thấy")) -> uuid.UUID:
    """A UUID from the path, or NotFound (a malformed id is just another unknown object)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(msg(message)) from None


async def require_doctor(
    request: web.Request, actor: Actor, *, object_type: str, need: str, refusal: str
) -> None:
    """Refuse (with ``refusal``, audited) anyone but a doctor: for a doctor's own screens."""
    async with request.app[sessions_key]() as session:
        await access.require_role(
            session,
            actor=actor,
            roles=(Role.doctor,),
            object_type=object_type,
            need=need,
            message=msg(refusal),
        )


# Flash messages ----------------------------------------------------------------------------------

_flash_read_key = web.RequestKey("flash_read", bool)


def _sign(request: web.Request, payload: bytes) -> str:
    key = request.app[config_key].secret_key.encode("utf-8")
    return (
        base64.urlsafe_b64encode(hmac.new(key, b"flash:" + payload, hashlib.sha256).digest())
        .decode("ascii")
        .rstrip("=")
    )


def flash(
    request: web.Request, response: web.StreamResponse, message: str, kind: str = "success"
) -> None:
    """Show a message once on the next page (put it on the redirect after a form post)."""
    items = _read_flashes(request) if not request.get(_flash_read_key) else []
    items.append({"kind": kind if kind in FLASH_KINDS else "info", "text": message})
    payload = json.dumps(items[-5:], ensure_ascii=False).encode("utf-8")
    value = base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")
    response.set_cookie(
        FLASH_COOKIE,
        f"{value}.{_sign(request, payload)}",
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.app[config_key].secure_cookies or request.secure,
    )


def _read_flashes(request: web.Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE, "")
    value, _, sig = raw.partition(".")
    if not value or not sig:
        return []
    try:
        payload = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return []
    if not hmac.compare_digest(sig, _sign(request, payload)):
        return []
    try:
        items = json.loads(payload)
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [
        {"kind": str(i.get("kind", "info")), "text": str(i.get("text", ""))}
        for i in items
        if isinstance(i, dict)
    ]


def take_flashes(request: web.Request) -> list[dict[str, str]]:
    """The pending flash messages; the cookie is cleared with this response."""
    if FLASH_COOKIE not in request.cookies:
        return []
    request[_flash_read_key] = True
    return _read_flashes(request)


async def clear_flash(request: web.Request, response: web.StreamResponse) -> None:
    """Delete the flash cookie once its messages were shown (a response-prepare hook)."""
    if request.get(_flash_read_key) and FLASH_COOKIE not in response.cookies:
        response.headers.add(
            hdrs.SET_COOKIE, f"{FLASH_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        )


class PendingFlashes:
    """The flash messages of a request, taken (and cleared) only when a template shows them."""

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._items: list[dict[str, str]] | None = None

    def _take(self) -> list[dict[str, str]]:
        if self._items is None:
            self._items = take_flashes(self._request)
        return self._items

    def __bool__(self) -> bool:
        return bool(self._take())

    def __iter__(self) -> Iterator[dict[str, str]]:
        return iter(self._take())


# The base context ---------------------------------------------------------------------------------


def _visible_nav(request: web.Request, role: Role | None) -> list[dict[str, str | bool]]:
    if role is None:
        return []
    lz = localizer(request)
    registered = request.app[nav_key] if nav_key in request.app else []
    items = sorted(registered, key=lambda i: (i.order, i.route))
    current = request.match_info.route.name if request.match_info.route else None
    out: list[dict[str, str | bool]] = []
    for item in items:
        if role not in item.roles or item.route not in request.app.router:
            continue
        out.append(
            {
                "href": url(request, item.route),
                "label": lz.gettext(item.label),
                "current": item.route == current,
                "route": item.route,
            }
        )
    return out


async def _facility_of(request: web.Request, user: User) -> Facility | None:
    try:
        async with request.app[sessions_key]() as session:
            return await facilities_svc.get_facility(session=session, facility_id=user.facility_id)
    except RecordsError:
        return None


async def _unread(request: web.Request, user: User | None) -> int:
    """The bell's number: the signed-in person's unread notifications."""
    actor = request.get(actor_key)
    if user is None or actor is None:
        return 0
    async with request.app[sessions_key]() as session:
        return await notifications_svc.unread_count(session=session, actor=actor)


async def base_context(request: web.Request) -> dict[str, Any]:
    """The variables every template may use."""
    if request.path.startswith(_NOT_PAGES):
        return {}
    lz = localizer(request)
    user: User | None = request.get(user_key)
    role = user.role if user is not None else None
    return {
        "request": request,
        "_": lz.gettext,
        "gettext": lz.gettext,
        "ngettext": lz.ngettext,
        "label": lz.label,
        # A records message (records.messages) in the reader's language.
        "say": lz.message,
        "choices": lz.choices,
        # The national list of ethnic groups: proper names, the same in every language.
        "ethnicities": list(identity.ETHNICITIES.items()),
        "ethnicity_name": identity.ethnicity_name,
        "lang": lz.lang,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "user": user,
        "role": str(role) if role is not None else None,
        "facility": await _facility_of(request, user) if user is not None else None,
        "csrf_token": csrf_token(request),
        "csp_nonce": csp_nonce(request),
        "flashes": PendingFlashes(request),
        "nav": _visible_nav(request, role),
        "current_path": request.path_qs,
        "unread": await _unread(request, user),
    }


async def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """Render a page template with the base context (user, language, CSRF token, navigation)."""
    merged = {**await base_context(request), **(context or {})}
    return aiohttp_jinja2.render_template(template, request, merged, status=status)


# Lists --------------------------------------------------------------------------------------------

PAGE_SIZE = 25


def page_offset(request: web.Request) -> int:
    """The ``offset`` query parameter, 0 when absent or malformed."""
    try:
        return max(0, int(request.query.get("offset", "0")))
    except ValueError:
        return 0


def pager(
    request: web.Request,
    *,
    offset: int,
    limit: int,
    count: int,
    total: int | None,
    total_exact: bool = True,
) -> dict[str, Any]:
    """What ``_pagination.html`` needs: the position and the previous/next links."""
    query = dict(request.query)

    def link(to: int) -> str:
        q = {**query, "offset": str(to)}
        if to == 0:
            q.pop("offset")
        return str(request.rel_url.with_query(q))

    has_next = total > offset + count if total is not None else count >= limit
    return {
        "offset": offset,
        "limit": limit,
        "count": count,
        "total": total,
        "total_exact": total_exact,
        "prev_url": link(max(0, offset - limit)) if offset > 0 else None,
        "next_url": link(offset + limit) if has_next and count else None,
    }
