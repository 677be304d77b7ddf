"""Error pages: domain errors and HTTP errors of page requests answered in HTML."""

from __future__ import annotations

import logging

from aiohttp import web

from records.messages import N_

from ..i18n import localizer
from .common import render, url

log = logging.getLogger(__name__)

# Shown as the page heading; the message of the error follows it.
TITLES = {
    400: N_("Yêu cầu không hợp lệ"),
    401: N_("Cần đăng nhập"),
    403: N_("Không có quyền truy cập"),
    404: N_("Không tìm thấy trang"),
    405: N_("Thao tác không được hỗ trợ"),
    409: N_("Xung đột dữ liệu"),
    413: N_("Tệp hoặc dữ liệu quá lớn"),
    429: N_("Quá nhiều lần thử"),
    500: N_("Lỗi hệ thống"),
}


def _title(status: int) -> str:
    if status in TITLES:
        return TITLES[status]
    return TITLES[500] if status >= 500 else TITLES[400]


def _detail(title: str, message: str) -> str:
    """The message under the heading, unless it only repeats it ("Không tìm thấy")."""
    return "" if title.casefold().startswith(message.casefold()) else message


async def render_error(
    request: web.Request, status: int, code: str, message: str
) -> web.StreamResponse:
    """An error page; a signed-out visitor asking for a page is sent to the login form."""
    if status == 401 and request.method in ("GET", "HEAD") and "login" in request.app.router:
        return web.HTTPSeeOther(url(request, "login", query={"next": request.path_qs}))
    try:
        lz = localizer(request)
        title = _title(status)
        context = {
            "status": status,
            "code": code,
            "title": lz.gettext(title),
            # The message comes translated from the error middleware.
            "message": _detail(lz.gettext(title), message),
        }
        return await render(request, "errors/error.html", context, status=status)
    except Exception:
        # The error page itself failed: answer in plain text rather than not at all.
        log.exception("error page failed for %s %s", request.method, request.path)
        return web.Response(
            status=status, text=f"{status} {message}", content_type="text/plain", charset="utf-8"
        )
