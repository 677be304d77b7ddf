"""What the web layer needs to know from the configuration."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from records.actor import ReadPolicy

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses and CIDR blocks ("10.0.0.5", "10.0.0.0/24", "::1"); ValueError names a bad one."""
    networks: list[IPNetwork] = []
    for entry in entries:
        text = entry.strip()
        try:
            # strict=False: "10.0.0.7/24" means the block 10.0.0.0/24, as operators expect.
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"{text!r} is not an IP address or network (examples: 10.0.0.5, 10.0.0.0/24, ::1)"
            ) from None
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class WebConfig:
    """Settings of the web layer, built by the application factory."""

    secret_key: str
    secure_cookies: bool = False
    allowed_origins: tuple[str, ...] = ()
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    token_ttl_hours: int = 24
    # What signed-in actors may read beyond their facility (the follow-up window).
    read_policy: ReadPolicy = field(default_factory=ReadPolicy)
    max_upload_bytes: int = 200 * 1024 * 1024
    # One upload request carries at most this many files (its declared length is bounded by it).
    max_files_per_request: int = 20
    # A request body that sends nothing for this long, or less than the minimum rate after it,
    # is cut off with 408 (slow-body attacks).
    body_idle_seconds: float = 30.0
    body_min_bytes_per_second: float = 1024.0
    join_token_ttl_seconds: int = 300
    default_locale: str = "vi"
    # An emergency request waiting longer than this for a time is flagged on every list.
    emergency_delay_minutes: int = 30
    # A case's outcome is overdue this many days after its final minutes.
    outcome_due_days: int = 7
    # Loopback-only deployments without accounts are not supported: every request is identified.
    login_delay_base: float = 0.5
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses, CIDRs).
    trusted_proxies: tuple[str, ...] = ()
    proxy_networks: tuple[IPNetwork, ...] = field(init=False, default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "proxy_networks", parse_networks(self.trusted_proxies))
