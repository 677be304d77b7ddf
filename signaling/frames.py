"""Every frame the server sends, each built by one typed function (docs/signaling.md)."""

from __future__ import annotations

from typing import Any

from signaling.ports import RECORDER_ID

Frame = dict[str, Any]


def consent_request(by: str | None) -> Frame:
    """`recording-consent-request`: asks a peer whether it agrees to be recorded."""
    return {"type": "recording-consent-request", "recorder": RECORDER_ID, "by": by}
