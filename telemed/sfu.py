"""The SFU for the rooms, when the settings name a Janus server."""

from __future__ import annotations

from signaling.media.sfu import JanusRouter, JanusSettings

from .settings import Settings


def sfu_router(settings: Settings) -> JanusRouter | None:
    """A router that places rooms on Janus, or None: every room is a mesh."""
    if not settings.janus_url:
        return None
    return JanusRouter(
        JanusSettings(
            url=settings.janus_url,
            api_secret=settings.janus_api_secret,
            admin_key=settings.janus_admin_key,
            sfu_from=settings.sfu_from,
            max_peers=settings.sfu_max,
        )
    )
