"""The window an SLO is judged over: rolling (ending now) or the current calendar unit in a time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

CalendarUnit = Literal["day", "week", "month", "quarter"]
CALENDAR_UNITS: tuple[CalendarUnit, ...] = ("day", "week", "month", "quarter")


def rolling_window(period: timedelta, now: datetime) -> tuple[datetime, datetime]:
    """The window [now - period, now)."""
    _require_aware(now)
    if period <= timedelta(0):
        raise ValueError("the window's period must be positive")
    return now - period, now


def calendar_window(unit: CalendarUnit, time_zone: str, now: datetime) -> tuple[datetime, datetime]:
    """The calendar unit [start, end) containing `now`, in UTC.

    Units start at local midnight in `time_zone`: days, weeks on Monday, months on the 1st, quarters
    in January, April, July and October. Bounds are computed on the local calendar and only then
    converted, so a day across a DST change lasts 23 or 25 hours. A midnight that falls in a DST gap
    (a few zones move their clocks at 00:00) resolves to the instant of the change.
    """
    _require_aware(now)
    zone = ZoneInfo(time_zone)
    today = now.astimezone(zone).date()
    first, after = _local_bounds(unit, today)
    return _local_midnight_utc(first, zone), _local_midnight_utc(after, zone)


def _local_bounds(unit: CalendarUnit, today: date) -> tuple[date, date]:
    if unit == "day":
        return today, today + timedelta(days=1)
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=7)
    if unit == "month":
        return today.replace(day=1), _add_months(today.replace(day=1), 1)
    if unit == "quarter":
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return first, _add_months(first, 3)
    raise ValueError(f"unknown calendar unit {unit!r}: expected one of {', '.join(CALENDAR_UNITS)}")


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    # fold=0: a midnight inside a DST gap takes the offset from before the change, which maps it to
    # the change itself; a repeated midnight takes its first occurrence.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone: pass an aware UTC datetime")
