"""Budget and burn-rate maths against numbers computed by hand from the SRE Workbook."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.budget import (
    budget_consumed_share,
    burn_rate,
    error_budget,
    error_budget_remaining,
    time_to_exhaustion,
)
from app.core.windows import WindowCounts, parse_window, window_label


def test_error_budget_is_one_minus_objective() -> None:
    assert error_budget(0.999) == pytest.approx(0.001)
    assert error_budget(0.99) == pytest.approx(0.01)


@pytest.mark.parametrize("objective", [0.0, 1.0, -0.1, 1.5])
def test_error_budget_rejects_objectives_outside_the_open_interval(objective: float) -> None:
    with pytest.raises(ValueError, match="objective"):
        error_budget(objective)


def test_burn_rate_of_one_spends_exactly_the_budget() -> None:
    # 1 bad in 1000 against a 99.9% objective is exactly the budgeted rate.
    assert burn_rate(WindowCounts(good=999, total=1000), 0.999) == pytest.approx(1.0)


def test_burn_rate_of_a_total_outage_is_one_over_the_budget() -> None:
    assert burn_rate(WindowCounts(good=0, total=500), 0.999) == pytest.approx(1000.0)


def test_burn_rate_is_unknown_without_events() -> None:
    assert burn_rate(WindowCounts(good=0, total=0), 0.999) is None


def test_budget_remaining_counts_bad_events_against_the_allowed_ones() -> None:
    # 1,000,000 events at 99.9% allow 1,000 bad; 250 bad leaves 75%.
    counts = WindowCounts(good=999_750, total=1_000_000)
    assert error_budget_remaining(counts, 0.999) == pytest.approx(0.75)


def test_budget_remaining_goes_negative_when_overspent() -> None:
    counts = WindowCounts(good=997_000, total=1_000_000)
    assert error_budget_remaining(counts, 0.999) == pytest.approx(-2.0)


def test_budget_remaining_is_whole_without_events() -> None:
    assert error_budget_remaining(WindowCounts(0, 0), 0.99) == 1.0


def test_budget_consumed_share_of_an_incident() -> None:
    # Workbook: a page on the 1h window at 14.4x consumes 14.4 * 1h / 720h = 2% of a 30-day budget.
    period_total = 720 * 1000  # 1000 requests an hour for 30 days
    hour_bad = round(14.4 * 0.001 * 1000)  # bad events in one hour at burn 14.4
    share = budget_consumed_share(hour_bad, WindowCounts(period_total - hour_bad, period_total), 0.999)
    assert share == pytest.approx(14 / 720, rel=1e-9)  # 14 events of the 720 allowed
    assert share == pytest.approx(0.02, abs=0.001)


def test_time_to_exhaustion_at_constant_burn() -> None:
    # Half the budget left, burning at 2x: the remaining half lasts a quarter of the period.
    assert time_to_exhaustion(0.5, 2.0, timedelta(days=30)) == timedelta(days=7.5)


def test_time_to_exhaustion_edges() -> None:
    assert time_to_exhaustion(0.0, 5.0, timedelta(days=30)) == timedelta(0)
    assert time_to_exhaustion(-0.3, None, timedelta(days=30)) == timedelta(0)
    assert time_to_exhaustion(0.4, 0.0, timedelta(days=30)) is None
    assert time_to_exhaustion(0.4, None, timedelta(days=30)) is None


def test_window_counts_refuse_impossible_values() -> None:
    with pytest.raises(ValueError, match="exceed"):
        WindowCounts(good=5, total=4)
    with pytest.raises(ValueError, match="negative"):
        WindowCounts(good=-1, total=4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("28d", timedelta(days=28)),
        ("2w", timedelta(days=14)),
    ],
)
def test_parse_window(text: str, expected: timedelta) -> None:
    assert parse_window(text) == expected
    assert parse_window(window_label(expected)) == expected


@pytest.mark.parametrize("text", ["", "5", "m", "0d", "-1h", "1.5h", "3y", "1 h"])
def test_parse_window_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_window(text)


def test_budget_with_an_objective_change_inside_the_window() -> None:
    from app.core.budget import error_budget_remaining_by_objective

    before = WindowCounts(good=9_950, total=10_000)  # 99% then: 100 allowed, 50 bad
    after = WindowCounts(good=9_995, total=10_000)  # 99.9% now: 10 allowed, 5 bad
    assert error_budget_remaining_by_objective([(before, 0.99), (after, 0.999)]) == pytest.approx(0.5)
    # One segment is the plain formula.
    assert error_budget_remaining_by_objective([(after, 0.999)]) == pytest.approx(
        error_budget_remaining(after, 0.999)
    )
    assert error_budget_remaining_by_objective([(WindowCounts(0, 0), 0.99)]) == 1.0
