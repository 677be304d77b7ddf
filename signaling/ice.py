"""ICE servers for `welcome`: STUN URLs, and TURN with time-limited REST credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from signaling.config import SignalingConfig

# Users with credentials kept before the expired ones are forgotten.
_PRUNE_AT = 1024


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


class IceServers:
    """Each user's ICE servers, TURN credentials minted once and handed out again while more
    than half their lifetime is left: a join's HTTP answer and the `welcome` that follows it
    carry the same credentials, and a reconnect soon after mints none."""

    def __init__(self, config: SignalingConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        # user id -> (handed out until, servers)
        self._minted: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    def for_user(self, user_id: str) -> list[dict[str, Any]]:
        """The RTCIceServer list for one user."""
        if not (self.config.turn_urls and self.config.turn_secret):
            return ice_servers(self.config, user_id)
        now = self._clock()
        kept = self._minted.get(user_id)
        if kept is None or kept[0] <= now:
            if len(self._minted) >= _PRUNE_AT:
                self._minted = {u: k for u, k in self._minted.items() if k[0] > now}
            kept = (now + self.config.turn_ttl_seconds / 2, ice_servers(self.config, user_id, now))
            self._minted[user_id] = kept
        return [dict(server) for server in kept[1]]
