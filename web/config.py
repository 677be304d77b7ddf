"""What the web layer needs to know from the configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebConfig:
    """Settings of the web layer, built by the application factory."""

    secret_key: str
    secure_cookies: bool = False
    allowed_origins: tuple[str, ...] = ()
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    token_ttl_hours: int = 24
    followup_days: int = 30
    max_upload_bytes: int = 200 * 1024 * 1024
    join_token_ttl_seconds: int = 300
    default_locale: str = "vi"
    # Loopback-only deployments without accounts are not supported: every request is identified.
    login_delay_base: float = 0.5
