"""Calendar and rolling windows against bounds worked out by hand from the tz database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.calendar import calendar_window, rolling_window


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_the_day_the_clocks_go_forward_in_paris_lasts_23_hours() -> None:
    # 29 March 2026: 00:00 CET (UTC+1) to 00:00 CEST (UTC+2) the next day.
    start, end = calendar_window("day", "Europe/Paris", utc(2026, 3, 29, 12))
    assert (start, end) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert end - start == timedelta(hours=23)


def test_the_day_the_clocks_go_back_in_paris_lasts_25_hours() -> None:
    start, end = calendar_window("day", "Europe/Paris", utc(2026, 10, 25, 12))
    assert (start, end) == (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert end - start == timedelta(hours=25)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 3, 8, 12), (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))),
        (utc(2026, 11, 1, 12), (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))),
        # 03:59 UTC on 9 March is still 23:59 EDT on the 8th.
        (utc(2026, 3, 9, 3, 59), (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))),
    ],
)
def test_new_york_days_across_dst(now: datetime, expected: tuple[datetime, datetime]) -> None:
    assert calendar_window("day", "America/New_York", now) == expected


def test_a_midnight_inside_a_dst_gap_starts_the_day_at_the_change() -> None:
    # Santiago moves from UTC-4 to UTC-3 at 00:00 on 6 September 2026: that day has no midnight.
    assert calendar_window("day", "America/Santiago", utc(2026, 9, 6, 12)) == (
        utc(2026, 9, 6, 4),
        utc(2026, 9, 7, 3),
    )


def test_a_month_in_tokyo_follows_the_local_calendar() -> None:
    # 16:00 UTC on 31 January is 01:00 on 1 February in Tokyo (UTC+9).
    assert calendar_window("month", "Asia/Tokyo", utc(2026, 1, 31, 16)) == (
        utc(2026, 1, 31, 15),
        utc(2026, 2, 28, 15),
    )
    assert calendar_window("month", "Asia/Tokyo", utc(2026, 1, 31, 14, 59)) == (
        utc(2025, 12, 31, 15),
        utc(2026, 1, 31, 15),
    )


def test_weeks_start_on_monday_at_local_midnight() -> None:
    # 5 January 2026 is a Monday.
    assert calendar_window("week", "UTC", utc(2026, 1, 11, 23, 59)) == (utc(2026, 1, 5), utc(2026, 1, 12))
    assert calendar_window("week", "UTC", utc(2026, 1, 12)) == (utc(2026, 1, 12), utc(2026, 1, 19))
    # 15:00 UTC on Sunday 11 January is already Monday 00:00 in Tokyo.
    assert calendar_window("week", "Asia/Tokyo", utc(2026, 1, 11, 15)) == (
        utc(2026, 1, 11, 15),
        utc(2026, 1, 18, 15),
    )


def test_a_week_containing_the_spring_change_is_an_hour_short() -> None:
    start, end = calendar_window("week", "Europe/Paris", utc(2026, 3, 29, 12))
    assert (start, end) == (utc(2026, 3, 22, 23), utc(2026, 3, 29, 22))
    assert end - start == timedelta(days=7) - timedelta(hours=1)


def test_quarters_start_in_january_april_july_and_october() -> None:
    assert calendar_window("quarter", "Europe/Paris", utc(2026, 5, 10)) == (
        utc(2026, 3, 31, 22),
        utc(2026, 6, 30, 22),
    )
    # 23:30 UTC on 31 December is already 2027 in Paris.
    assert calendar_window("quarter", "Europe/Paris", utc(2026, 12, 31, 23, 30)) == (
        utc(2026, 12, 31, 23),
        utc(2027, 3, 31, 22),
    )


def test_a_december_month_ends_in_the_next_year() -> None:
    assert calendar_window("month", "UTC", utc(2026, 12, 15)) == (utc(2026, 12, 1), utc(2027, 1, 1))


def test_rolling_window_ends_now() -> None:
    assert rolling_window(timedelta(days=28), utc(2026, 3, 1)) == (utc(2026, 2, 1), utc(2026, 3, 1))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        calendar_window("day", "UTC", datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="time zone"):
        rolling_window(timedelta(days=1), datetime(2026, 1, 1))  # noqa: DTZ001


def test_unknown_unit_and_empty_period_are_refused() -> None:
    with pytest.raises(ValueError, match="calendar unit"):
        calendar_window("year", "UTC", utc(2026, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        rolling_window(timedelta(0), utc(2026, 1, 1))
