"""The link profiles of the district centres (docs/rural-links.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    """One direction pair of a link as seen from the district: rates, delay, loss, jitter."""

    name: str
    down_kbit: int
    up_kbit: int
    rtt_ms: int
    loss_percent: float
    jitter_ms: int
    reorder: bool = False
    # Seconds of total loss in the middle of the run (0: none).
    outage_s: int = 0


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("good", 20_000, 10_000, 20, 0.0, 0),
        Profile("adsl", 4_000, 500, 60, 0.5, 10),
        Profile("thin", 300, 300, 300, 5.0, 30),
        Profile("3g", 1_000, 400, 150, 2.0, 50, reorder=True),
        Profile("outage20", 20_000, 10_000, 20, 0.0, 0, outage_s=20),
        Profile("outage60", 20_000, 10_000, 20, 0.0, 0, outage_s=60),
    )
}
