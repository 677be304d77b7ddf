"""Who is asking, whether the browser really meant it, and the headers every answer carries.

- Identity: ``Authorization: Bearer <token>`` (scripts) or the ``telemed_session`` cookie
  (browsers); the middleware sets ``user_key``, ``actor_key`` and ``auth_method_key`` on every
  request (None when anonymous). A request with an Authorization header never falls back to the
  cookie.
- CSRF: state-changing requests authenticated by the cookie carry ``X-CSRF-Token`` (or the form
  field ``csrf_token``): HMAC(secret_key, session id), compared in constant time. An ``Origin``
  (or ``Referer``) from another site is refused, for anonymous requests too. A login posted
  with an opaque ``Origin: null`` (our own forms, under ``Referrer-Policy: no-referrer``) needs
  the pre-session token of the login page. Bearer requests need neither: a browser never
  attaches that header on its own.
- Client address (``web.proxies``): the peer, or what trusted reverse proxies say of it;
  throttling, sessions and the audit trail all use it.
- Headers (``web.headers``): CSP with a per-request nonce and the rest of every document's
  headers, added on ``on_response_prepare`` with the session cookies, so streamed files and
  WebSocket upgrades get them too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import cast
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from records.actor import Actor
from records.errors import Forbidden, Unauthenticated
from records.messages import N_, msg
from records.models import User
from records.services import auth as auth_svc

from .headers import STATIC_PREFIX, csp_nonce, document_headers
from .keys import actor_key as _actor_key
from .keys import auth_method_key as _auth_method_key
from .keys import config_key, sessions_key
from .keys import user_key as _user_key
from .proxies import client_address, served_over_tls

SESSION_COOKIE = "telemed_session"
PRESESSION_COOKIE = "telemed_presession"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The shared keys, with the value types their declaration cannot spell for the checker.
user_key = cast("web.RequestKey[User | None]", _user_key)
actor_key = cast("web.RequestKey[Actor | None]", _actor_key)
auth_method_key = cast("web.RequestKey[str | None]", _auth_method_key)

# The raw secrets of this request, for CSRF, logout and revocation; never leave the process.
_session_id_key = web.RequestKey("auth_session_id", str)
_bearer_key = web.RequestKey("auth_bearer_token", str)
_presession_key = web.RequestKey("auth_presession", str)
_new_presession_key = web.RequestKey("auth_new_presession", bool)
_stale_cookie_key = web.RequestKey("auth_stale_cookie", bool)

_SECRET_RE = re.compile(r"^[A-Za-z0-9_\-]{20,200}$")

CSRF_REFUSED = N_("Yêu cầu bị từ chối: thiếu hoặc sai mã bảo vệ (CSRF). Vui lòng tải lại trang")
ORIGIN_REFUSED = N_("Yêu cầu bị từ chối: không xuất phát từ trang của hệ thống")
LOGIN_REQUIRED = N_("Vui lòng đăng nhập")


# Identity ---------------------------------------------------------------------------------------


def require_user(request: web.Request) -> User:
    """The signed-in user, or Unauthenticated."""
    user: User | None = request.get(user_key)
    if user is None:
        raise Unauthenticated(msg(LOGIN_REQUIRED))
    return user


def require_actor(request: web.Request) -> Actor:
    """The signed-in actor, or Unauthenticated."""
    actor: Actor | None = request.get(actor_key)
    if actor is None:
        raise Unauthenticated(msg(LOGIN_REQUIRED))
    return actor


async def still_signed_in(request: web.Request) -> bool:
    """Whether the request's session or token is still live (logged out, expired or a disabled
    account ends it); for long-lived answers, checked without counting as activity."""
    async with request.app[sessions_key]() as db:
        token = request.get(_bearer_key)
        if token is not None:
            return await auth_svc.resolve_api_token(session=db, token=token) is not None
        cookie = request.get(_session_id_key)
        if cookie is None:
            return False
        user = await auth_svc.resolve_session_cookie(session=db, cookie_value=cookie, slide=False)
        return user is not None


def _set_identity(request: web.Request, user: User | None, method: str | None) -> None:
    request[user_key] = user
    actor = None
    if user is not None:
        policy = request.app[config_key].read_policy
        actor = Actor.of(user, client_addr=client_address(request), policy=policy)
    request[actor_key] = actor
    request[auth_method_key] = method if user else None


async def _identify(request: web.Request) -> None:
    _set_identity(request, None, None)
    if request.path.startswith(STATIC_PREFIX):
        return
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and _SECRET_RE.match(token):
            async with request.app[sessions_key]() as db:
                user = await auth_svc.resolve_api_token(session=db, token=token)
            if user is not None:
                request[_bearer_key] = token
                _set_identity(request, user, "bearer")
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return
    user = None
    if _SECRET_RE.match(cookie):
        async with request.app[sessions_key]() as db:
            user = await auth_svc.resolve_session_cookie(session=db, cookie_value=cookie)
    if user is None:
        request[_stale_cookie_key] = True
        return
    request[_session_id_key] = cookie
    _set_identity(request, user, "cookie")


# Sessions ---------------------------------------------------------------------------------------


def _set_session_cookie(
    request: web.Request, response: web.StreamResponse, signed: auth_svc.SignedIn
) -> None:
    config = request.app[config_key]
    response.set_cookie(
        SESSION_COOKIE,
        signed.session_id,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=served_over_tls(request),
        max_age=config.session_max_hours * 3600,
    )
    request[_session_id_key] = signed.session_id
    request.pop(_stale_cookie_key, None)
    _set_identity(request, signed.user, "cookie")


def _lifetimes(request: web.Request) -> tuple[timedelta, timedelta]:
    config = request.app[config_key]
    return (
        timedelta(minutes=config.session_idle_minutes),
        timedelta(hours=config.session_max_hours),
    )


async def sign_in(
    request: web.Request, response: web.StreamResponse, *, username: str, password: str
) -> User:
    """Check the credentials and set a fresh session cookie on the response (login forms)."""
    await _check_login_origin(request)
    idle, lifetime = _lifetimes(request)
    async with request.app[sessions_key]() as db:
        signed = await auth_svc.login(
            session=db,
            username=username,
            password=password,
            client_addr=client_address(request),
            user_agent=request.headers.get("User-Agent"),
            idle=idle,
            lifetime=lifetime,
            replace_session_id=request.get(_session_id_key) or request.cookies.get(SESSION_COOKIE),
        )
    _set_session_cookie(request, response, signed)
    return signed.user


async def start_session(request: web.Request, response: web.StreamResponse, user: User) -> None:
    """Open a new session with a fresh id for an already verified user and set its cookie."""
    idle, lifetime = _lifetimes(request)
    async with request.app[sessions_key]() as db:
        signed = await auth_svc.create_session(
            session=db,
            user=user,
            client_addr=client_address(request),
            user_agent=request.headers.get("User-Agent"),
            idle=idle,
            lifetime=lifetime,
            replace_session_id=request.get(_session_id_key) or request.cookies.get(SESSION_COOKIE),
        )
    _set_session_cookie(request, response, signed)


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """Log out: delete the server-side session and the cookie; the old cookie never works again."""
    session_id = request.get(_session_id_key) or request.cookies.get(SESSION_COOKIE)
    if session_id:
        async with request.app[sessions_key]() as db:
            await auth_svc.logout(
                session=db, session_id=session_id, client_addr=client_address(request)
            )
    response.del_cookie(SESSION_COOKIE, path="/")
    request.pop(_session_id_key, None)
    _set_identity(request, None, None)


def current_session_id(request: web.Request) -> str | None:
    """The raw id of the request's browser session (to keep it when others are ended)."""
    return request.get(_session_id_key)


def bearer_token(request: web.Request) -> str | None:
    """The bearer token the request was authenticated with, if any."""
    return request.get(_bearer_key)


# CSRF -------------------------------------------------------------------------------------------


def _sign(request: web.Request, purpose: str, value: str) -> str:
    key = request.app[config_key].secret_key.encode("utf-8")
    mac = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def csrf_token(request: web.Request) -> str:
    """The token forms and fetch calls must send back (``csrf_token`` / ``X-CSRF-Token``).

    Templates put it in ``<meta name="csrf-token" content="…">`` and in a hidden form field.
    Without a session (the login page) it is bound to a pre-session cookie set on the response.
    """
    session_id = request.get(_session_id_key)
    if session_id:
        return _sign(request, "session", session_id)
    pre = request.get(_presession_key) or request.cookies.get(PRESESSION_COOKIE, "")
    if not _SECRET_RE.match(pre):
        pre = secrets.token_urlsafe(32)
        request[_new_presession_key] = True
    request[_presession_key] = pre
    return _sign(request, "pre", pre)


def _origin_of(request: web.Request) -> str | None:
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.strip()
    referer = request.headers.get("Referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"


def origin_allowed(request: web.Request, origin: str) -> bool:
    """Whether an origin is this server itself or one of the configured public origins."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if parts.netloc.lower() == request.host.lower():
        return True
    wanted = f"{parts.scheme}://{parts.netloc}".lower()
    return any(wanted == o.rstrip("/").lower() for o in request.app[config_key].allowed_origins)


async def _sent_token(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    # Multipart bodies are streamed by their handler; their token comes in the header only.
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def _check_csrf(request: web.Request) -> None:
    method = request[auth_method_key]
    if method == "bearer":
        return
    origin = _origin_of(request)
    if origin is not None and origin != "null" and not origin_allowed(request, origin):
        raise Forbidden(msg(ORIGIN_REFUSED))
    if method != "cookie":
        # Anonymous writes fail on their own (401), except the login: see _check_login_origin.
        return
    expected = _sign(request, "session", request[_session_id_key])
    sent = await _sent_token(request)
    if not hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode("ascii")):
        raise Forbidden(msg(CSRF_REFUSED))


async def _check_login_origin(request: web.Request) -> None:
    """Refuse a login posted from elsewhere: the victim would work in the attacker's account."""
    origin = _origin_of(request)
    if origin is not None and origin != "null" and not origin_allowed(request, origin):
        raise Forbidden(msg(ORIGIN_REFUSED))
    if origin != "null":
        return
    # Our own forms post with Origin "null" (Referrer-Policy: no-referrer), and so does a
    # sandboxed page elsewhere; only our pages know the pre-session token.
    pre = request.cookies.get(PRESESSION_COOKIE, "")
    sent = await _sent_token(request)
    if not _SECRET_RE.match(pre) or not hmac.compare_digest(
        sent.encode("utf-8", "replace"), _sign(request, "pre", pre).encode("ascii")
    ):
        raise Forbidden(msg(CSRF_REFUSED))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Identify the caller, then refuse cross-site writes."""
    csp_nonce(request)
    await _identify(request)
    if request.method in UNSAFE_METHODS:
        await _check_csrf(request)
    return await handler(request)


# Response headers -------------------------------------------------------------------------------


async def _on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    secure = served_over_tls(request)
    if not isinstance(response, web.WebSocketResponse):
        # A WebSocket handshake carries no document, and its headers stay in memory for as
        # long as the socket lives (hours, thousands of them): only cookies matter there.
        signed_in = request.get(user_key) is not None
        document_headers(request, response, secure=secure, signed_in=signed_in)
    # The response's own cookies are already serialised here, so these go in as raw headers.
    if request.get(_stale_cookie_key):
        headers.add(hdrs.SET_COOKIE, _cookie(SESSION_COOKIE, "", secure=secure, max_age=0))
    if request.get(_new_presession_key):
        value = request[_presession_key]
        headers.add(hdrs.SET_COOKIE, _cookie(PRESESSION_COOKIE, value, secure=secure))


def _cookie(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    jar: SimpleCookie = SimpleCookie()
    jar[name] = value
    morsel = jar[name]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    if secure:
        morsel["secure"] = True
    if max_age is not None:
        morsel["max-age"] = str(max_age)
    return morsel.OutputString()


def setup_security(app: web.Application) -> None:
    """Add identification, CSRF checks and the security headers to an application."""
    app.middlewares.append(auth_middleware)
    app.on_response_prepare.append(_on_response_prepare)
