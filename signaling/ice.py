"""ICE servers for `welcome`: STUN URLs, and TURN with time-limited REST credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from signaling.config import SignalingConfig


def turn_credentials(secret: str, user_id: str, ttl: int, now: float) -> tuple[str, str]:
    """coturn `use-auth-secret` credentials: (`expiry:user_id`, base64 HMAC-SHA1)."""
    username = f"{int(now) + ttl}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    config: SignalingConfig, user_id: str, now: float | None = None
) -> list[dict[str, Any]]:
    """The RTCIceServer list handed to one user."""
    servers: list[dict[str, Any]] = []
    if config.stun_urls:
        servers.append({"urls": list(config.stun_urls)})
    if config.turn_urls:
        turn: dict[str, Any] = {"urls": list(config.turn_urls)}
        if config.turn_secret:
            clock = time.time() if now is None else now
            username, credential = turn_credentials(
                config.turn_secret, user_id, config.turn_ttl_seconds, clock
            )
            turn.update(username=username, credential=credential)
        elif config.turn_username and config.turn_credential:
            turn.update(username=config.turn_username, credential=config.turn_credential)
        servers.append(turn)
    return servers
