"""Typed application and request keys of the web layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from records.actor import Actor
from records.blobs import BlobStore
from records.db import SessionMaker
from records.models import User
from records.render import Renderer

from .background import Background
from .config import WebConfig

config_key = web.AppKey("web_config", WebConfig)
sessions_key = web.AppKey("db_sessions", SessionMaker)
blobs_key = web.AppKey("blobs", BlobStore)
# The pool of render workers; owned by the application factory (a cleanup context).
renderer_key = web.AppKey("renderer", Renderer)
# Work beside the requests (warming caches); owned by the application factory.
background_key = web.AppKey("background", Background)

# Set by the authentication middleware for every request.
user_key = web.RequestKey("user", User | None)  # type: ignore[arg-type]
actor_key = web.RequestKey("actor", Actor | None)  # type: ignore[arg-type]
# How the request was authenticated: "cookie", "bearer" or None.
auth_method_key = web.RequestKey("auth_method", str | None)  # type: ignore[arg-type]
csp_nonce_key = web.RequestKey("csp_nonce", str)

# ICE servers (STUN/TURN with credentials) for a user id; provided by the application factory.
IceProvider = Callable[[str], list[dict[str, Any]]]
ice_provider_key: web.AppKey[IceProvider] = web.AppKey("ice_provider")
