"""Local time: Telemed serves Vietnam, whose clocks read Asia/Ho_Chi_Minh (UTC+7, no DST).

Times are stored in UTC; pages, calendars, exports and file names show them here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def to_local(value: datetime) -> datetime:
    """A datetime in Asia/Ho_Chi_Minh (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ)
