"""Exclusion windows: recurrences in local time across DST, merging, and the whole-minute rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.core.exclusions import (
    ExclusionRule,
    exclusion_intervals,
    merge_intervals,
    minute_is_excluded,
    widen_to_minutes,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def sunday_maintenance(first: datetime) -> ExclusionRule:
    return ExclusionRule(
        reason="maintenance",
        first_start=first,
        duration=timedelta(hours=2),
        rrule="FREQ=WEEKLY;BYDAY=SU",
        time_zone="Europe/Paris",
    )


def test_sunday_0200_to_0400_in_paris_across_the_march_change() -> None:
    rule = sunday_maintenance(datetime(2026, 3, 22, 2, tzinfo=PARIS))
    assert exclusion_intervals([rule], utc(2026, 3, 20), utc(2026, 4, 10)) == [
        (utc(2026, 3, 22, 1), utc(2026, 3, 22, 3)),  # 02:00 CET = 01:00 UTC
        # 02:00 does not exist on the 29th: it resolves to the change itself (01:00 UTC, 03:00 CEST),
        # and the two hours are elapsed time.
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 3)),
        (utc(2026, 4, 5, 0), utc(2026, 4, 5, 2)),  # 02:00 CEST = 00:00 UTC
    ]


def test_sunday_maintenance_across_the_october_change_takes_the_first_0200() -> None:
    rule = sunday_maintenance(datetime(2026, 10, 18, 2, tzinfo=PARIS))
    assert exclusion_intervals([rule], utc(2026, 10, 17), utc(2026, 11, 2)) == [
        (utc(2026, 10, 18, 0), utc(2026, 10, 18, 2)),
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 2)),  # 02:00 CEST, before the clocks go back
        (utc(2026, 11, 1, 1), utc(2026, 11, 1, 3)),
    ]


def test_a_daily_rule_keeps_its_local_hour_in_new_york() -> None:
    rule = ExclusionRule(
        "retrain",
        datetime(2026, 3, 7, 9, tzinfo=NEW_YORK),
        timedelta(minutes=30),
        "FREQ=DAILY",
        "America/New_York",
    )
    assert exclusion_intervals([rule], utc(2026, 3, 7), utc(2026, 3, 9, 23)) == [
        (utc(2026, 3, 7, 14), utc(2026, 3, 7, 14, 30)),  # EST
        (utc(2026, 3, 8, 13), utc(2026, 3, 8, 13, 30)),  # EDT from 8 March
        (utc(2026, 3, 9, 13), utc(2026, 3, 9, 13, 30)),
    ]


def test_a_one_off_exclusion_is_clipped_to_the_window() -> None:
    rule = ExclusionRule("migration", utc(2026, 1, 1, 22), timedelta(hours=4))
    assert exclusion_intervals([rule], utc(2026, 1, 2), utc(2026, 1, 3)) == [
        (utc(2026, 1, 2), utc(2026, 1, 2, 2))
    ]
    assert exclusion_intervals([rule], utc(2026, 1, 2, 2), utc(2026, 1, 3)) == []


def test_the_first_start_counts_even_off_the_rule() -> None:
    # RFC 5545: DTSTART is the first instance. 1 January 2026 is a Thursday.
    rule = ExclusionRule("m", utc(2026, 1, 1, 10), timedelta(hours=1), "FREQ=WEEKLY;BYDAY=SU")
    assert exclusion_intervals([rule], utc(2026, 1, 1), utc(2026, 1, 5)) == [
        (utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)),
        (utc(2026, 1, 4, 10), utc(2026, 1, 4, 11)),
    ]


def test_count_limits_the_recurrence() -> None:
    rule = ExclusionRule("m", utc(2026, 1, 1, 10), timedelta(hours=1), "FREQ=DAILY;COUNT=2")
    assert len(exclusion_intervals([rule], utc(2026, 1, 1), utc(2026, 1, 10))) == 2


def test_overlapping_and_touching_rules_merge() -> None:
    rules = [
        ExclusionRule("a", utc(2026, 1, 1, 10), timedelta(hours=1)),
        ExclusionRule("b", utc(2026, 1, 1, 10, 30), timedelta(hours=1)),
        ExclusionRule("c", utc(2026, 1, 1, 11, 30), timedelta(minutes=10)),
        ExclusionRule("d", utc(2026, 1, 1, 13), timedelta(minutes=10)),
    ]
    assert exclusion_intervals(rules, utc(2026, 1, 1), utc(2026, 1, 2)) == [
        (utc(2026, 1, 1, 10), utc(2026, 1, 1, 11, 40)),
        (utc(2026, 1, 1, 13), utc(2026, 1, 1, 13, 10)),
    ]


def test_merge_drops_empty_intervals_and_keeps_contained_ones_inside() -> None:
    assert merge_intervals(
        [
            (utc(2026, 1, 1, 1), utc(2026, 1, 1, 1)),
            (utc(2026, 1, 1, 2), utc(2026, 1, 1, 5)),
            (utc(2026, 1, 1, 3), utc(2026, 1, 1, 4)),
        ]
    ) == [(utc(2026, 1, 1, 2), utc(2026, 1, 1, 5))]


def test_a_minute_is_excluded_when_it_overlaps_excluded_time() -> None:
    intervals = [
        (utc(2026, 1, 1, 10, 0, 30), utc(2026, 1, 1, 10, 1)),
        (utc(2026, 1, 1, 11), utc(2026, 1, 1, 11, 2)),
    ]
    assert minute_is_excluded(utc(2026, 1, 1, 10, 0), intervals)  # partly excluded
    assert not minute_is_excluded(utc(2026, 1, 1, 9, 59), intervals)
    assert not minute_is_excluded(utc(2026, 1, 1, 10, 1), intervals)  # the interval ends where it starts
    assert minute_is_excluded(utc(2026, 1, 1, 11, 1), intervals)
    assert not minute_is_excluded(utc(2026, 1, 1, 11, 2), intervals)
    assert not minute_is_excluded(utc(2026, 1, 1, 10, 59), intervals)
    assert not minute_is_excluded(utc(2026, 1, 1, 11), [])


def test_widen_to_minutes_rounds_out_to_whole_minutes() -> None:
    assert widen_to_minutes(
        [
            (utc(2026, 1, 1, 10, 0, 30), utc(2026, 1, 1, 10, 1)),
            (utc(2026, 1, 1, 10, 1, 59), utc(2026, 1, 1, 10, 2, 1)),
        ]
    ) == [(utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 3))]


def test_invalid_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ExclusionRule("m", datetime(2026, 1, 1), timedelta(hours=1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="positive"):
        ExclusionRule("m", utc(2026, 1, 1), timedelta(0))
