"""The headers every document carries: a Content Security Policy with a per-request nonce,
no sniffing, no referrer, no framing, and ``no-store`` on the API and on everything a signed-in
user gets."""

from __future__ import annotations

import re
import secrets

from aiohttp import web

from .keys import csp_nonce_key

# Public assets: no identity lookup (no database round trip per file) and cacheable.
STATIC_PREFIX = "/static/"
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def csp_nonce(request: web.Request) -> str:
    """This request's CSP nonce, for ``<script nonce="…">`` in templates."""
    nonce = request.get(csp_nonce_key)
    if nonce is None:
        nonce = secrets.token_urlsafe(16)
        request[csp_nonce_key] = nonce
    return nonce


def content_security_policy(request: web.Request) -> str:
    """The CSP of a response: our own origin only, scripts by nonce, sockets to this host."""
    host = request.host if _HOST_RE.match(request.host or "") else ""
    sockets = f" ws://{host} wss://{host}" if host else ""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{csp_nonce(request)}'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            f"connect-src 'self'{sockets}",
            "font-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ]
    )


def document_headers(
    request: web.Request, response: web.StreamResponse, *, secure: bool, signed_in: bool
) -> None:
    """Set the security headers of a document (not of a WebSocket handshake)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(request))
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers.setdefault(
        "Permissions-Policy",
        "camera=(self), microphone=(self), display-capture=(self), geolocation=()",
    )
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith("/api/") or (
        signed_in and not request.path.startswith(STATIC_PREFIX)
    ):
        headers["Cache-Control"] = "no-store"
