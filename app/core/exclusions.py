"""Planned exclusion windows (maintenance, retraining): which stretches of time do not count.

An exclusion starts at `first_start` and, with an RFC 5545 recurrence rule, again at each
occurrence of the rule. Occurrences are expanded in the rule's own time zone, so "every Sunday at
02:00 in Paris" stays at 02:00 local time across DST changes. `duration` is elapsed time.

Data is stored per minute, so exclusions act on whole minutes: a minute [m, m + 1min) is excluded
when it overlaps an excluded interval at all. A partly excluded minute cannot be split, and the
overlap rule errs on the side of not counting data from a planned window.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

MINUTE = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class ExclusionRule:
    """One declared exclusion. `first_start` is always an occurrence (RFC 5545: DTSTART is the
    first instance), whether or not it matches `rrule`."""

    reason: str
    first_start: datetime
    duration: timedelta
    rrule: str | None = None
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.first_start.tzinfo is None or self.first_start.utcoffset() is None:
            raise ValueError("an exclusion's first_start must be timezone-aware")
        if self.duration <= timedelta(0):
            raise ValueError("an exclusion's duration must be positive")


def exclusion_intervals(
    exclusions: Sequence[ExclusionRule], start: datetime, end: datetime
) -> list[Interval]:
    """Excluded time overlapping [start, end): sorted, merged UTC intervals clipped to the window."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    intervals: list[Interval] = []
    for rule in exclusions:
        for occurrence in _occurrences(rule, start - rule.duration, end):
            lower = max(occurrence, start)
            upper = min(occurrence + rule.duration, end)
            if lower < upper:
                intervals.append((lower, upper))
    return merge_intervals(intervals)


def _occurrences(rule: ExclusionRule, after: datetime, before: datetime) -> list[datetime]:
    """Occurrence starts strictly between `after` and `before` (absolute time)."""
    found = [rule.first_start] if after < rule.first_start < before else []
    if rule.rrule is not None:
        local_start = rule.first_start.astimezone(ZoneInfo(rule.time_zone))
        recurrence = rrulestr(rule.rrule, dtstart=local_start, forceset=True)
        # Bounds in UTC: comparing datetimes with different tzinfo compares instants, not wall times.
        found.extend(recurrence.between(after.astimezone(UTC), before.astimezone(UTC), inc=False))
    # In UTC before adding the duration: aware arithmetic in one zone adds wall-clock time, which
    # across a DST change is an hour off from elapsed time.
    return [occurrence.astimezone(UTC) for occurrence in found]


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge intervals that overlap or touch; empty intervals are dropped."""
    merged: list[Interval] = []
    for lower, upper in sorted(item for item in intervals if item[0] < item[1]):
        if merged and lower <= merged[-1][1]:
            if upper > merged[-1][1]:
                merged[-1] = (merged[-1][0], upper)
        else:
            merged.append((lower, upper))
    return merged


def floor_to_minute(moment: datetime) -> datetime:
    return moment - (moment - EPOCH) % MINUTE


def widen_to_minutes(intervals: Iterable[Interval]) -> list[Interval]:
    """The excluded minutes as merged ranges [first minute, end minute) on whole-minute bounds:
    each interval grows to every minute it overlaps. Ready for `minute >= lo AND minute < hi`."""
    widened: list[Interval] = []
    for lower, upper in intervals:
        first = floor_to_minute(lower)
        last = floor_to_minute(upper)
        widened.append((first, last if last == upper else last + MINUTE))
    return merge_intervals(widened)


def minute_is_excluded(minute: datetime, intervals: Sequence[Interval]) -> bool:
    """Whether the minute bucket [minute, minute + 1min) overlaps any of the merged, sorted
    `intervals` (as returned by `exclusion_intervals`)."""
    # The last interval starting before the bucket ends has the latest end of those that could overlap.
    index = bisect.bisect_left(intervals, minute + MINUTE, key=_start) - 1
    return index >= 0 and intervals[index][1] > minute


def _start(interval: Interval) -> datetime:
    return interval[0]
