"""Signalling settings: one frozen value built by the application factory."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SignalingConfig:
    """Every knob of the signalling server; the defaults suit a small deployment."""

    max_peers: int = 6
    grace_seconds: float = 20.0
    heartbeat_seconds: float = 10.0
    max_frame: int = 64 * 1024
    # aiohttp closes the socket above its own limit; ours must be lower so a big frame gets
    # an error reply instead.
    transport_max_frame: int = 1024 * 1024
    rate_per_second: float = 30.0
    rate_burst: int = 60
    # `spotlight` changes everyone's screen: a moderator gets a few per second at most.
    spotlight_per_second: float = 2.0
    spotlight_burst: int = 5
    abuse_limit: int = 50
    abuse_window_seconds: float = 60.0
    send_queue: int = 512
    pending_while_away: int = 256
    allowed_origins: tuple[str, ...] = ()
    session_cookie: str = "telemed_session"
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_username: str | None = None
    turn_credential: str | None = None
    turn_ttl_seconds: int = 6 * 3600
    redis_url: str | None = None
    redis_prefix: str = "telemed:sig:"
    bus_heartbeat_seconds: float = 5.0
    resync_settle_seconds: float = 2.0
    ended_ttl_seconds: float = 3600.0
    join_path: str = "/ws/rooms/{room_id}"
