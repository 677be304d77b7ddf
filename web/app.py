"""Wiring of the web layer onto an application built by the factory."""

from __future__ import annotations

from aiohttp import web

from records.blobs import BlobStore
from records.db import SessionMaker

from . import api, pages
from .availability import unavailable_middleware
from .config import WebConfig
from .errors import error_middleware
from .keys import blobs_key, config_key, sessions_key
from .limits import body_middleware
from .security import setup_security


def setup_web(
    app: web.Application, *, config: WebConfig, sessions: SessionMaker, blobs: BlobStore
) -> None:
    """Add the pages, the JSON API and their middlewares to the application."""
    app[config_key] = config
    app[sessions_key] = sessions
    app[blobs_key] = blobs
    # Outermost first: errors wrap everything, so even security refusals get a proper answer.
    app.middlewares.append(error_middleware)
    app.middlewares.append(body_middleware)
    app.middlewares.append(unavailable_middleware)
    setup_security(app)
    api.add_routes(app)
    pages.setup_pages(app)
