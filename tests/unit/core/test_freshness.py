"""Freshness ages at slice ends."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from app.core.freshness import ages_at, slice_ends

HOUR = timedelta(hours=1)


def test_slice_ends_are_aligned_and_inside_the_window() -> None:
    start = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    end = datetime(2026, 1, 5, 12, 10, tzinfo=UTC)
    # The slice 09:00-10:00 starts before the window, so it is not judged.
    assert slice_ends(start, end, HOUR) == [datetime(2026, 1, 5, h, tzinfo=UTC) for h in (11, 12)]
    aligned = datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert slice_ends(aligned, datetime(2026, 1, 5, 12, tzinfo=UTC), HOUR) == [
        datetime(2026, 1, 5, 11, tzinfo=UTC),
        datetime(2026, 1, 5, 12, tzinfo=UTC),
    ]


def test_age_is_measured_from_the_latest_success_at_or_before_each_end() -> None:
    successes = [datetime(2026, 1, 5, 2, tzinfo=UTC), datetime(2026, 1, 5, 6, tzinfo=UTC)]
    ends = [datetime(2026, 1, 5, h, tzinfo=UTC) for h in (1, 2, 5, 6, 9)]
    assert ages_at(successes, ends) == {
        ends[0]: math.inf,  # nothing has succeeded yet
        ends[1]: 0.0,
        ends[2]: 3 * 3600.0,
        ends[3]: 0.0,
        ends[4]: 3 * 3600.0,
    }
