"""Sessions, bearer tokens, CSRF and Origin checks, throttling and security headers over HTTP."""

from __future__ import annotations

import codecs
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from sqlmodel import col
from webtools import PASSWORD, MakeWeb, Web

from records.actor import Actor
from records.models import AuditEvent, Role, User, UserSession, utcnow
from records.services import auth as auth_svc
from records.services import users as users_svc
from web.security import PRESESSION_COOKIE, SESSION_COOKIE

WRITE = "/api/v1/test/write"


async def login(site: Web, user: User, **headers: str) -> tuple[str, str]:
    """Sign in through the JSON API: (session cookie value, CSRF token)."""
    resp = await site.client.post(
        "/api/v1/session",
        json={"username": user.username, "password": PASSWORD},
        headers={"Origin": site.origin, **headers},
    )
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    assert data["user"]["username"] == user.username and data["method"] == "cookie"
    return resp.cookies[SESSION_COOKIE].value, data["csrf_token"]


def with_cookie(site: Web, value: str) -> dict[str, str]:
    """Send exactly this session cookie (and nothing from the jar)."""
    site.client.session.cookie_jar.clear()
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


async def whoami(site: Web, **headers: str) -> Any:
    resp = await site.client.get("/api/v1/session", headers=headers)
    assert resp.status == 200
    return (await resp.json())["user"]


# Sessions -------------------------------------------------------------------------------------


async def test_login_cookie_attributes_and_fixation(site: Web) -> None:
    user = await site.user()
    resp = await site.client.post(
        "/api/v1/session",
        json={"username": user.username, "password": PASSWORD},
        headers={"Origin": site.origin},
    )
    raw = resp.headers.getall("Set-Cookie")
    cookie = next(c for c in raw if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    first = resp.cookies[SESSION_COOKIE].value
    assert len(first) >= 43
    # Signing in again, even with the old cookie, gives a new id and ends the old one.
    csrf = (await resp.json())["csrf_token"]
    second, _ = await login(site, user, **{"X-CSRF-Token": csrf})
    assert second != first
    assert await whoami(site, **with_cookie(site, first)) is None
    assert (await whoami(site, **with_cookie(site, second)))["id"] == str(user.id)
    async with site.sessions() as s:
        stored = (await s.execute(sa.select(col(UserSession.id_hash)))).scalars().all()
    assert stored == [auth_svc.secret_hash(second)]


async def test_secure_cookie_behind_tls(make_web: MakeWeb) -> None:
    site = await make_web(secure_cookies=True)
    user = await site.user()
    resp = await site.client.post(
        "/api/v1/session",
        json={"username": user.username, "password": PASSWORD},
        headers={"Origin": site.origin},
    )
    assert "Secure" in resp.headers["Set-Cookie"]
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_secure_cookie_behind_a_tls_proxy(make_web: MakeWeb) -> None:
    site = await make_web(trusted_proxies=("127.0.0.1",))
    user = await site.user()
    creds = {"username": user.username, "password": PASSWORD}
    resp = await site.client.post(
        "/api/v1/session", json=creds, headers={"X-Forwarded-Proto": "https"}
    )
    assert resp.status == 200 and "Secure" in resp.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in resp.headers
    # Plain HTTP: no Secure flag, or the browser would never send the cookie back.
    site.client.session.cookie_jar.clear()
    resp = await site.client.post("/api/v1/session", json=creds)
    assert resp.status == 200 and "Secure" not in resp.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in resp.headers


async def test_forwarded_proto_from_an_untrusted_peer_is_ignored(make_web: MakeWeb) -> None:
    # The proxy list names another machine: this client talks to us directly.
    site = await make_web(trusted_proxies=("10.0.0.0/8",))
    user = await site.user()
    creds = {"username": user.username, "password": PASSWORD}
    resp = await site.client.post(
        "/api/v1/session", json=creds, headers={"X-Forwarded-Proto": "https"}
    )
    assert resp.status == 200 and "Secure" not in resp.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in resp.headers


async def test_logout_then_replay_fails(site: Web) -> None:
    user = await site.user()
    cookie, csrf = await login(site, user)
    resp = await site.client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
    assert resp.status == 204
    assert f"{SESSION_COOKIE}=\"\"" in resp.headers["Set-Cookie"] or "Max-Age=0" in resp.headers[
        "Set-Cookie"
    ]
    replay = {**with_cookie(site, cookie), "X-CSRF-Token": csrf}
    resp = await site.client.post(WRITE, headers=replay)
    assert resp.status == 401
    assert (await resp.json())["error"]["message"] == "Vui lòng đăng nhập"


async def test_idle_and_absolute_expiry(site: Web) -> None:
    user = await site.user()
    cookie, csrf = await login(site, user)
    async with site.sessions() as s:
        idle = utcnow() - timedelta(minutes=31)
        await s.execute(sa.update(UserSession).values(last_seen_at=idle))
        await s.commit()
    assert await whoami(site, **with_cookie(site, cookie)) is None

    cookie, csrf = await login(site, user)
    async with site.sessions() as s:
        await s.execute(sa.update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        await s.commit()
    resp = await site.client.get("/api/v1/session", headers=with_cookie(site, cookie))
    assert (await resp.json())["user"] is None
    assert f"{SESSION_COOKIE}=" in resp.headers.get("Set-Cookie", "")  # the stale cookie goes


async def test_configured_lifetimes(make_web: MakeWeb) -> None:
    site = await make_web(session_idle_minutes=5, session_max_hours=2)
    user = await site.user()
    await login(site, user)
    async with site.sessions() as s:
        row = (await s.execute(sa.select(UserSession))).scalar_one()
    assert row.idle_seconds == 300 and row.expires_at - row.created_at == timedelta(hours=2)


async def test_disabled_and_admin_ended_sessions(site: Web) -> None:
    user = await site.user()
    admin_user = await site.user(Role.admin)
    cookie, csrf = await login(site, user)
    resp = await site.client.delete(
        f"/api/v1/users/{admin_user.id}/sessions", headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 403
    site.client.session.cookie_jar.clear()
    _, admin_csrf = await login(site, admin_user)
    resp = await site.client.delete(
        f"/api/v1/users/{user.id}/sessions", headers={"X-CSRF-Token": admin_csrf}
    )
    assert resp.status == 200 and (await resp.json())["ended"] == 1
    assert await whoami(site, **with_cookie(site, cookie)) is None

    cookie, _ = await login(site, user)
    async with site.sessions() as s:
        await users_svc.set_active(
            session=s, user_id=user.id, active=False, actor=Actor.of(admin_user)
        )
    assert await whoami(site, **with_cookie(site, cookie)) is None


# Bearer tokens --------------------------------------------------------------------------------


async def test_bearer_tokens_need_no_csrf_and_can_be_revoked(site: Web) -> None:
    user = await site.user()
    resp = await site.client.post(
        "/api/v1/tokens", json={"username": user.username, "password": PASSWORD}
    )
    assert resp.status == 201
    data = await resp.json()
    token = data["token"]
    assert data["expires_at"] and SESSION_COOKIE not in resp.cookies
    auth = {"Authorization": f"Bearer {token}"}
    resp = await site.client.post(WRITE, headers={**auth, "Origin": "https://evil.example"})
    assert resp.status == 200 and (await resp.json())["user"] == user.username
    assert resp.headers["Cache-Control"] == "no-store"
    resp = await site.client.delete("/api/v1/tokens/current", headers=auth)
    assert resp.status == 204
    resp = await site.client.post(WRITE, headers=auth)
    assert resp.status == 401
    resp = await site.client.post(
        "/api/v1/tokens", json={"username": user.username, "password": "sai mật khẩu"}
    )
    assert resp.status == 401


async def test_a_bad_bearer_header_never_falls_back_to_the_cookie(site: Web) -> None:
    user = await site.user()
    _, csrf = await login(site, user)
    resp = await site.client.post(
        WRITE, headers={"Authorization": "Bearer forged-token-forged-token", "X-CSRF-Token": csrf}
    )
    assert resp.status == 401


# CSRF and Origin ------------------------------------------------------------------------------


async def test_csrf_on_cookie_requests(site: Web) -> None:
    user = await site.user()
    _, csrf = await login(site, user)
    resp = await site.client.post(WRITE)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"
    resp = await site.client.post(WRITE, headers={"X-CSRF-Token": csrf + "x"})
    assert resp.status == 403
    resp = await site.client.post(WRITE, headers={"X-CSRF-Token": csrf, "Origin": site.origin})
    assert resp.status == 200
    body = await resp.json()
    assert body["user"] == user.username and body["addr"] == "127.0.0.1"
    # Our own forms post with Origin "null" (no-referrer policy) and the token as a field.
    resp = await site.client.post(WRITE, data={"csrf_token": csrf}, headers={"Origin": "null"})
    assert resp.status == 200
    resp = await site.client.post(
        WRITE, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    )
    assert resp.status == 403
    resp = await site.client.post(
        WRITE, headers={"X-CSRF-Token": csrf, "Referer": "https://evil.example/page"}
    )
    assert resp.status == 403
    form = aiohttp.FormData()
    form.add_field("file", b"x" * 1000, filename="a.bin")
    resp = await site.client.post(WRITE, data=form, headers={"X-CSRF-Token": csrf})
    assert resp.status == 200 and (await resp.json())["size"] == 1000
    form = aiohttp.FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("file", b"x", filename="a.bin")
    resp = await site.client.post(WRITE, data=form)
    assert resp.status == 403  # multipart bodies are not read for the token


async def test_allowed_origins(make_web: MakeWeb) -> None:
    site = await make_web(allowed_origins=("https://hoichan.example.vn",))
    user = await site.user()
    _, csrf = await login(site, user, Origin="https://hoichan.example.vn")
    resp = await site.client.post(
        WRITE, headers={"X-CSRF-Token": csrf, "Origin": "https://hoichan.example.vn"}
    )
    assert resp.status == 200


async def test_login_is_protected_by_origin(site: Web) -> None:
    user = await site.user()
    creds = {"username": user.username, "password": PASSWORD}
    resp = await site.client.post(
        "/api/v1/session", json=creds, headers={"Origin": "https://evil.example"}
    )
    assert resp.status == 403 and SESSION_COOKIE not in resp.cookies
    resp = await site.client.post("/api/v1/session", json=creds, headers={"Origin": "null"})
    assert resp.status == 403
    # The login page's token (bound to a pre-session cookie) makes an opaque origin acceptable.
    resp = await site.client.get("/api/v1/session")
    token = (await resp.json())["csrf_token"]
    assert PRESESSION_COOKIE in resp.cookies
    resp = await site.client.post(
        "/api/v1/session", json=creds, headers={"Origin": "null", "X-CSRF-Token": token}
    )
    assert resp.status == 200
    # Scripts send no Origin at all.
    site.client.session.cookie_jar.clear()
    resp = await site.client.post("/api/v1/session", json=creds)
    assert resp.status == 200


# Throttling -----------------------------------------------------------------------------------


async def test_failed_logins_are_throttled_alike_for_unknown_users(site: Web) -> None:
    user = await site.user()
    for name in (user.username, "khong.co.ai"):
        answers = []
        for _ in range(5):
            resp = await site.client.post(
                "/api/v1/tokens", json={"username": name, "password": "sai-mat-khau"}
            )
            answers.append((resp.status, (await resp.json())["error"]["message"]))
        assert set(answers) == {(401, "Tên đăng nhập hoặc mật khẩu không đúng")}
        resp = await site.client.post(
            "/api/v1/tokens", json={"username": name, "password": PASSWORD}
        )
        assert resp.status == 429 and resp.headers["Retry-After"] == "1"
        async with site.sessions() as s:
            await s.execute(sa.text("DELETE FROM login_throttle"))
            await s.commit()


async def seen_address(site: Web, token: str, forwarded: str | None) -> str:
    """The client address the server records for a request with this X-Forwarded-For."""
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    resp = await site.client.post(WRITE, json={}, headers=headers)
    assert resp.status == 200, await resp.text()
    addr: str = (await resp.json())["addr"]
    return addr


async def a_token(site: Web) -> str:
    """A bearer token of a fresh user."""
    user = await site.user()
    resp = await site.client.post(
        "/api/v1/tokens", json={"username": user.username, "password": PASSWORD}
    )
    assert resp.status == 201
    token: str = (await resp.json())["token"]
    return token


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(make_web: MakeWeb) -> None:
    for proxies in ((), ("10.0.0.0/8", "::1")):
        site = await make_web(trusted_proxies=proxies)
        token = await a_token(site)
        assert await seen_address(site, token, None) == "127.0.0.1"
        assert await seen_address(site, token, "203.0.113.9") == "127.0.0.1"
        assert await seen_address(site, token, "198.51.100.7, 203.0.113.9") == "127.0.0.1"


async def test_forwarded_for_from_a_trusted_proxy(make_web: MakeWeb) -> None:
    site = await make_web(trusted_proxies=("127.0.0.1", "192.0.2.0/24"))
    token = await a_token(site)
    assert await seen_address(site, token, None) == "127.0.0.1"
    assert await seen_address(site, token, "203.0.113.9") == "203.0.113.9"
    # Right to left, the first hop that is not one of our proxies; what the client itself
    # wrote further left is not believed.
    assert await seen_address(site, token, "1.1.1.1, 203.0.113.9, 192.0.2.10") == "203.0.113.9"
    assert await seen_address(site, token, "203.0.113.9:51234") == "203.0.113.9"
    assert await seen_address(site, token, "2001:db8::7") == "2001:db8::7"
    # Only proxies on the way: the farthest one is the client as far as we can tell.
    assert await seen_address(site, token, "192.0.2.20, 192.0.2.10") == "192.0.2.20"
    # Garbage stops the walk at the last trusted hop.
    assert await seen_address(site, token, "203.0.113.9, not-an-ip, 192.0.2.10") == "192.0.2.10"
    assert await seen_address(site, token, "") == "127.0.0.1"


async def fail_logins(site: Web, forwarded: str, count: int) -> None:
    """Failed sign-ins of unknown names, so that only the address counter grows."""
    for i in range(count):
        resp = await site.client.post(
            "/api/v1/tokens",
            json={"username": f"khong.co.{i}", "password": "sai-mat-khau"},
            headers={"X-Forwarded-For": forwarded},
        )
        assert resp.status == 401


async def test_throttling_keys_on_the_client_behind_a_trusted_proxy(make_web: MakeWeb) -> None:
    site = await make_web(trusted_proxies=("127.0.0.1",))
    user = await site.user()
    creds = {"username": user.username, "password": PASSWORD}
    await fail_logins(site, "203.0.113.9", 5)
    resp = await site.client.post(
        "/api/v1/tokens", json=creds, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert resp.status == 429
    # Another client behind the same proxy is not held up by the first one's failures.
    resp = await site.client.post(
        "/api/v1/tokens", json=creds, headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert resp.status == 201
    async with site.sessions() as s:
        failed = (
            await s.execute(
                sa.select(AuditEvent).where(col(AuditEvent.action) == "login-failed")
            )
        ).scalars().all()
    assert {e.client_addr for e in failed} == {"203.0.113.9"}


async def test_a_spoofed_forwarded_for_does_not_escape_throttling(site: Web) -> None:
    user = await site.user()
    for i in range(5):
        await fail_logins(site, f"203.0.113.{i}", 1)
    resp = await site.client.post(
        "/api/v1/tokens",
        json={"username": user.username, "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert resp.status == 429


# Admin and own account ------------------------------------------------------------------------


async def test_unlock_reset_and_change_password(site: Web) -> None:
    user = await site.user()
    admin_user = await site.user(Role.admin)
    async with site.sessions() as s:
        await s.execute(sa.update(User).where(col(User.id) == user.id).values(locked_at=utcnow()))
        await s.commit()
    resp = await site.client.post(
        "/api/v1/session", json={"username": user.username, "password": PASSWORD}
    )
    assert resp.status == 401
    _, admin_csrf = await login(site, admin_user)
    h = {"X-CSRF-Token": admin_csrf}
    resp = await site.client.post(f"/api/v1/users/{user.id}/unlock", headers=h)
    assert resp.status == 200 and (await resp.json())["username"] == user.username
    resp = await site.client.post(
        f"/api/v1/users/{user.id}/password", json={"new_password": "123456789a"}, headers=h
    )
    assert resp.status == 400 and "new_password" in (await resp.json())["error"]["fields"]
    resp = await site.client.post(
        f"/api/v1/users/{user.id}/password", json={"new_password": "Cây cầu tre 2025"}, headers=h
    )
    assert resp.status == 204

    site.client.session.cookie_jar.clear()
    resp = await site.client.post(
        "/api/v1/session",
        json={"username": user.username, "password": "Cây cầu tre 2025"},
        headers={"Origin": site.origin},
    )
    assert resp.status == 200
    csrf = (await resp.json())["csrf_token"]
    resp = await site.client.post(
        "/api/v1/account/password",
        json={"current_password": "Cây cầu tre 2025", "new_password": "Sông Bé mùa nước nổi"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 204
    assert (await whoami(site))["username"] == user.username  # this session stays


# Headers --------------------------------------------------------------------------------------


def assert_security_headers(resp: aiohttp.ClientResponse) -> None:
    csp = resp.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "style-src 'self'",
    ):
        assert directive in csp
    assert "script-src 'self' 'nonce-" in csp and "connect-src 'self' ws://" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/api/v1/session", "GET", 200),
        ("/page", "GET", 200),
        ("/nowhere", "GET", 404),
        ("/boom", "GET", 500),
        (WRITE, "POST", 401),
        ("/api/v1/session", "PUT", 405),
        ("/static/app.js", "GET", 200),
    ],
)
async def test_security_headers_everywhere(site: Web, path: str, method: str, status: int) -> None:
    resp = await site.client.request(method, path)
    assert resp.status == status
    assert_security_headers(resp)
    if path.startswith("/api/"):
        assert resp.headers["Cache-Control"] == "no-store"


async def test_nonce_per_request_and_no_store_when_signed_in(site: Web) -> None:
    first = await site.client.get("/page")
    second = await site.client.get("/page")
    nonces = []
    for resp in (first, second):
        nonce = resp.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
        assert f'nonce="{nonce}"' in await resp.text()
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    assert "no-store" not in first.headers.get("Cache-Control", "")
    await login(site, await site.user())
    resp = await site.client.get("/page")
    assert resp.headers["Cache-Control"] == "no-store"
    ws = await site.client.ws_connect("/ws")
    assert await ws.receive_str() == "hello"
    # A handshake has no document: no document headers kept for the socket's whole life.
    assert "Content-Security-Policy" not in ws._response.headers
    assert "X-Frame-Options" not in ws._response.headers
    await ws.close()


# Audit log ------------------------------------------------------------------------------------


async def test_audit_log_api_is_for_admins_with_filters_and_csv(site: Web) -> None:
    user = await site.user()
    admin_user = await site.user(Role.admin)
    _, csrf = await login(site, user)
    resp = await site.client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
    assert resp.status == 204
    await site.client.post(
        "/api/v1/tokens", json={"username": user.username, "password": "sai mật khẩu"}
    )
    await login(site, user)
    resp = await site.client.get("/api/v1/audit")
    assert resp.status == 403
    resp = await site.client.get("/api/v1/audit.csv")
    assert resp.status == 403

    site.client.session.cookie_jar.clear()
    await login(site, admin_user)
    resp = await site.client.get("/api/v1/audit", params={"user_id": str(user.id)})
    assert resp.status == 200
    page = await resp.json()
    actions = [e["action"] for e in page["items"]]
    # Newest first: the two refusals, the second login, the logout, the first login.
    assert actions == ["denied", "denied", "login", "logout", "login"]
    assert all(e["client_addr"] == "127.0.0.1" for e in page["items"])
    resp = await site.client.get("/api/v1/audit", params={"action": "login-failed"})
    failed = (await resp.json())["items"]
    assert len(failed) == 1 and failed[0]["detail"]["username"] == user.username
    assert failed[0]["actor_id"] is None
    future = (utcnow() + timedelta(days=1)).isoformat()
    resp = await site.client.get("/api/v1/audit", params={"since": future})
    assert (await resp.json())["total"] == 0
    resp = await site.client.get("/api/v1/audit", params={"since": "hôm qua"})
    assert resp.status == 400 and "since" in (await resp.json())["error"]["fields"]
    resp = await site.client.get("/api/v1/audit", params={"user_id": "123"})
    assert resp.status == 400

    resp = await site.client.get(
        "/api/v1/audit.csv", params={"user_id": str(user.id), "action": "login"}
    )
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    # UTF-8 with a byte order mark, so that Excel reads the Vietnamese names right.
    body = await resp.read()
    assert body.startswith(codecs.BOM_UTF8)
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("seq,at,actor_id") and len(lines) == 3
    resp = await site.client.get("/api/v1/audit", params={"action": "export"})
    exported = (await resp.json())["items"]
    assert exported[0]["actor_id"] == str(admin_user.id) and exported[0]["detail"]["rows"] == 2
