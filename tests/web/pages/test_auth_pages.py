"""Signing in and out through the forms, CSRF refusals, and changing one's password."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pagetools import PASSWORD, Site, csrf_of, field_error, field_value, running_site
from sqlalchemy.ext.asyncio import AsyncEngine

NEW_PASSWORD = "Một mật khẩu mới rất dài 2025"


@pytest.fixture
async def site(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Site]:
    """The application with people of three facilities."""
    async with running_site(engine, tmp_path) as running:
        yield running


async def test_signed_out_visitors_are_sent_to_the_login_with_their_destination(site: Site) -> None:
    resp = await site.client.get("/patients?q=lan", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/login?next=/patients?q%3Dlan"


async def test_the_login_page_is_vietnamese_and_carries_a_pre_session_token(site: Site) -> None:
    resp = await site.client.get("/login")
    html = await resp.text()
    assert resp.status == 200
    assert '<html lang="vi">' in html
    assert "Tên đăng nhập" in html and "Mật khẩu" in html
    assert csrf_of(html)
    assert "telemed_presession" in resp.cookies


async def test_login_goes_to_the_page_asked_for_and_logout_ends_the_session(site: Site) -> None:
    token = csrf_of(await site.page("/login"))
    resp = await site.client.post(
        "/login",
        data={"username": "doctor", "password": PASSWORD, "csrf_token": token, "next": "/patients"},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/patients"
    home = await site.page("/")
    assert "Nguyễn Thị Lan" in home and "Trung tâm Y tế huyện Chơn Thành" in home
    assert "Bác sĩ tuyến dưới" in home

    status, _, location = await site.post("/logout", {})
    assert status == 303 and location == "/login"
    login = await site.page("/login")
    assert "Bạn đã đăng xuất" in login
    # The flash is shown once.
    assert "Bạn đã đăng xuất" not in await site.page("/login")
    resp = await site.client.get("/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")


async def test_a_next_address_on_another_site_is_ignored(site: Site) -> None:
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        site.client.session.cookie_jar.clear()
        token = csrf_of(await site.page("/login"))
        resp = await site.client.post(
            "/login",
            data={"username": "doctor", "password": PASSWORD, "csrf_token": token, "next": evil},
            allow_redirects=False,
        )
        assert resp.status == 303
        assert resp.headers["Location"] == "/"


async def test_wrong_credentials_keep_the_username_and_never_the_password(site: Site) -> None:
    token = csrf_of(await site.page("/login"))
    resp = await site.client.post(
        "/login", data={"username": "doctor", "password": "sai mật khẩu", "csrf_token": token}
    )
    html = await resp.text()
    assert resp.status == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in html
    assert field_value(html, "username") == "doctor"
    assert "sai mật khẩu" not in html
    assert not site.signed_in


async def test_empty_fields_are_marked_in_vietnamese(site: Site) -> None:
    token = csrf_of(await site.page("/login"))
    resp = await site.client.post(
        "/login", data={"username": "", "password": "", "csrf_token": token}
    )
    html = await resp.text()
    assert resp.status == 400
    assert field_error(html, "username") == "Trường này là bắt buộc"
    assert field_error(html, "password") == "Trường này là bắt buộc"


async def test_repeated_failures_are_throttled_with_a_vietnamese_message(site: Site) -> None:
    token = csrf_of(await site.page("/login"))
    statuses = []
    html = ""
    for _ in range(12):
        resp = await site.client.post(
            "/login", data={"username": "doctor", "password": "không đúng", "csrf_token": token}
        )
        statuses.append(resp.status)
        html = await resp.text()
        if resp.status == 429:
            break
    assert statuses[-1] == 429, statuses
    assert re.search(r"Đăng nhập sai nhiều lần. Vui lòng thử lại sau \d+ giây", html)
    assert resp.headers["Retry-After"].isdigit()
    # Even the right password waits now.
    resp = await site.client.post(
        "/login", data={"username": "doctor", "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status == 429


async def test_a_login_from_a_sandboxed_page_without_our_token_is_refused(site: Site) -> None:
    await site.page("/login")
    resp = await site.client.post(
        "/login",
        data={"username": "doctor", "password": PASSWORD},
        headers={"Origin": "null"},
        allow_redirects=False,
    )
    assert resp.status == 403
    assert "CSRF" in await resp.text()
    assert not site.signed_in


async def test_a_login_posted_from_another_site_is_refused(site: Site) -> None:
    resp = await site.client.post(
        "/login",
        data={"username": "doctor", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert resp.status == 403
    assert "không xuất phát từ trang của hệ thống" in await resp.text()


async def test_our_own_login_form_works_under_an_opaque_origin(site: Site) -> None:
    token = csrf_of(await site.page("/login"))
    resp = await site.client.post(
        "/login",
        data={"username": "doctor", "password": PASSWORD, "csrf_token": token},
        headers={"Origin": "null"},
        allow_redirects=False,
    )
    assert resp.status == 303


async def test_logout_without_the_csrf_token_is_refused(site: Site) -> None:
    await site.login("doctor")
    status, html, _ = await site.post("/logout", {}, token="not-the-token")
    assert status == 403
    assert "Yêu cầu bị từ chối" in html
    assert '<html lang="vi">' in html
    # Still signed in.
    await site.page("/account")


async def test_the_account_page_shows_who_i_am(site: Site) -> None:
    await site.login("specialist")
    html = await site.page("/account")
    assert "Trần Quốc Bảo" in html and "Bác sĩ chuyên khoa" in html
    assert "Bệnh viện Đa khoa tỉnh Bình Phước" in html


async def test_changing_the_password_checks_each_field(site: Site) -> None:
    await site.login("doctor")
    status, html, _ = await site.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": "khác"},
    )
    assert status == 400
    assert field_error(html, "confirm_password") == "Mật khẩu nhập lại không khớp"

    status, html, _ = await site.post(
        "/account/password",
        {"current_password": "sai", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert status == 400
    assert field_error(html, "current_password") == "Mật khẩu hiện tại không đúng"

    status, html, _ = await site.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "ngắn", "confirm_password": "ngắn"},
    )
    assert status == 400
    assert "ít nhất 10 ký tự" in (field_error(html, "new_password") or "")
    # Password fields never echo what was typed.
    assert "ngắn" not in html.split("<main", 1)[1]


async def test_a_changed_password_works_and_the_old_one_does_not(site: Site) -> None:
    await site.login("doctor")
    status, _, location = await site.post(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert status == 303 and location == "/account"
    assert "Đã đổi mật khẩu" in await site.page("/account")
    await site.post("/logout", {})
    token = csrf_of(await site.page("/login"))
    old = await site.client.post(
        "/login",
        data={"username": "doctor", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert old.status == 401
    new = await site.client.post(
        "/login",
        data={"username": "doctor", "password": NEW_PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert new.status == 303


async def test_a_signed_out_form_post_gets_a_page_with_a_way_to_sign_in(site: Site) -> None:
    token = csrf_of(await site.page("/login"))
    resp = await site.client.post(
        "/patients", data={"mrn": "X", "csrf_token": token}, allow_redirects=False
    )
    html = await resp.text()
    assert resp.status == 401
    assert "Cần đăng nhập" in html and 'href="/login"' in html


async def test_an_unknown_address_gets_a_vietnamese_not_found_page(site: Site) -> None:
    await site.login("doctor")
    html = await site.page("/khong-co-trang-nay", status=404)
    assert "Không tìm thấy trang" in html and "Về trang chủ" in html
    # The layout is there, with the signed-in user.
    assert "Nguyễn Thị Lan" in html
