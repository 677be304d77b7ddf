"""The application factory: builds the whole server from settings, with nothing global."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from records.blobs import BlobStore
from records.db import create_engine, session_maker
from records.events import EventHub
from records.render import Renderer
from records.signing import FacilityCertificates
from signaling import IceServers, setup_signaling
from web.app import setup_web
from web.background import Background
from web.config import WebConfig
from web.keys import background_key, ice_provider_key, renderer_key
from web.minutes_pdf import certs_key

from .health import setup_health
from .keys import engine_key, settings_key
from .metrics import setup_metrics
from .recording import setup_media
from .room_bridge import RecordsAuthorizer, RecordsEventSink, signaling_config
from .settings import Settings
from .sfu import sfu_router
from .workflow import setup_workflow

log = logging.getLogger(__name__)

# Multipart uploads are streamed; this only bounds bodies read whole (JSON, forms).
MAX_BODY = 4 * 1024 * 1024


def web_config(settings: Settings) -> WebConfig:
    """The web layer's view of the settings."""
    return WebConfig(
        secret_key=settings.secret_key,
        secure_cookies=settings.uses_tls,
        allowed_origins=settings.allowed_origins,
        trusted_proxies=settings.trusted_proxies,
        session_idle_minutes=settings.session_idle_minutes,
        session_max_hours=settings.session_max_hours,
        token_ttl_hours=settings.token_ttl_hours,
        read_policy=settings.read_policy,
        max_upload_bytes=settings.max_upload_bytes,
        body_idle_seconds=settings.body_idle_seconds,
        body_min_bytes_per_second=settings.body_min_bytes_per_second,
        join_token_ttl_seconds=settings.join_token_ttl_seconds,
        default_locale=settings.default_locale,
        emergency_delay_minutes=settings.emergency_schedule_minutes,
        outcome_due_days=settings.outcome_due_days,
    )


def create_app(settings: Settings) -> web.Application:
    """Build the server: database, file store, web layer and signalling, wired together."""
    settings = settings.with_secret()
    app = web.Application(client_max_size=MAX_BODY)
    app[settings_key] = settings
    engine = create_engine(settings.effective_database_url)
    app[engine_key] = engine
    events = EventHub()
    sessions = session_maker(engine, events=events, audit_key=settings.audit_key_bytes)
    blobs = BlobStore(settings.blob_dir)

    async def database(app: web.Application) -> AsyncIterator[None]:
        blobs.sweep_tmp()
        try:
            yield
        finally:
            await engine.dispose()

    app.cleanup_ctx.append(database)

    async def rendering(app: web.Application) -> AsyncIterator[None]:
        # Workers start with the first render, so a server that shows no image runs none.
        async with Renderer(settings.render_limits) as renderer:
            app[renderer_key] = renderer
            yield

    app.cleanup_ctx.append(rendering)

    async def background(app: web.Application) -> AsyncIterator[None]:
        # After the render workers' context: its tasks are cancelled before the workers stop.
        app[background_key] = tasks = Background()
        try:
            yield
        finally:
            await tasks.close()

    app.cleanup_ctx.append(background)
    sig_config = signaling_config(settings)
    ice = IceServers(sig_config)
    app[ice_provider_key] = ice.for_user
    setup_web(app, config=web_config(settings), sessions=sessions, blobs=blobs)
    app[certs_key] = FacilityCertificates(settings.cert_dir, settings.facility_cert_password)
    setup_health(app, engine=engine, redis_url=settings.redis_url)
    setup_metrics(app, token=settings.metrics_token)
    setup_workflow(app, settings=settings, sessions=sessions, hub=events)
    media = setup_media(app, settings=settings, config=sig_config, sessions=sessions, blobs=blobs)
    setup_signaling(
        app,
        config=sig_config,
        authorizer=RecordsAuthorizer(sessions, policy=settings.read_policy),
        sink=media.sink(RecordsEventSink(sessions), sessions=sessions, blobs=blobs),
        recorder=media.recorder,
        sfu=sfu_router(settings),
        ice=ice,
    )
    return app
