"""What the activity dashboard looks at and what it shows: the period in whole local months,
the filter, the figures one can drill into, and the figures of a facility and month."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from ..errors import Invalid
from ..localtime import LOCAL_TZ
from ..messages import msg

# The longest period one dashboard covers.
MAX_MONTHS = 36
DEFAULT_MONTHS = 12
DEFAULT_EMERGENCY_TARGET = timedelta(minutes=30)


class Figure(StrEnum):
    """A count the dashboard can drill into."""

    requested = "requested"
    held = "held"
    cancelled = "cancelled"
    emergency = "emergency"
    emergency_missed = "emergency_missed"


@dataclass(frozen=True)
class Period:
    """Whole local months, ``first`` to ``last`` inclusive (each as its first day)."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.first.day != 1 or self.last.day != 1:
            raise Invalid(msg("Khoảng thời gian phải tính theo tháng"))
        if self.last < self.first:
            raise Invalid(
                msg("Tháng kết thúc phải sau tháng bắt đầu"),
                fields={"until": msg("Tháng kết thúc phải sau tháng bắt đầu")},
            )
        if len(self.months()) > MAX_MONTHS:
            raise Invalid(
                msg("Khoảng thời gian tối đa %(n)s tháng", n=MAX_MONTHS),
                fields={"since": msg("Khoảng thời gian tối đa %(n)s tháng", n=MAX_MONTHS)},
            )

    @classmethod
    def last_months(cls, n: int = DEFAULT_MONTHS, *, today: date | None = None) -> Period:
        """The ``n`` months up to and including this one."""
        day = today or datetime.now(LOCAL_TZ).date()
        last = day.replace(day=1)
        first = last
        for _ in range(n - 1):
            first = (first - timedelta(days=1)).replace(day=1)
        return cls(first, last)

    def months(self) -> list[str]:
        """Every month of the period as ``YYYY-MM``."""
        out: list[str] = []
        month = self.first
        while month <= self.last:
            out.append(f"{month.year:04d}-{month.month:02d}")
            month = (month + timedelta(days=32)).replace(day=1)
        return out

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as [start, end) moments."""
        end_day = (self.last + timedelta(days=32)).replace(day=1)
        return (
            datetime.combine(self.first, time(0), tzinfo=LOCAL_TZ),
            datetime.combine(end_day, time(0), tzinfo=LOCAL_TZ),
        )


@dataclass(frozen=True)
class ActivityFilter:
    """What the dashboard looks at: a period, and optionally one facility and one specialty."""

    period: Period
    facility_id: uuid.UUID | None = None
    specialty: str | None = None
    emergency_target: timedelta = DEFAULT_EMERGENCY_TARGET

    def __post_init__(self) -> None:
        if self.specialty is not None and not 1 <= len(self.specialty) <= 100:
            raise Invalid(
                msg("Chuyên khoa không hợp lệ"),
                fields={"specialty": msg("Chuyên khoa không hợp lệ")},
            )


@dataclass
class MonthFigures:
    """The figures of one requesting facility in one month."""

    facility_id: uuid.UUID
    month: str
    requested: int = 0
    held: int = 0
    cancelled: int = 0
    emergency: int = 0
    emergency_on_target: int = 0
    to_session_median_h: float | None = None
    to_session_p90_h: float | None = None
    to_minutes_median_h: float | None = None
    to_minutes_p90_h: float | None = None
    attendees: int = 0


@dataclass
class Activity:
    """Everything the dashboard shows for a filter."""

    months: list[str]
    rows: list[MonthFigures]
    specialties: list[tuple[str, int]] = field(default_factory=list)
    # facility_id -> (tests, median round trip in ms, share of links that cannot carry video)
    connection: dict[uuid.UUID, tuple[int, float | None, float]] = field(default_factory=dict)

    def totals(self) -> MonthFigures:
        """The counts summed over facilities and months (durations are not summable)."""
        total = MonthFigures(facility_id=uuid.UUID(int=0), month="")
        for row in self.rows:
            for name in (
                "requested",
                "held",
                "cancelled",
                "emergency",
                "emergency_on_target",
                "attendees",
            ):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        return total
