"""Budgeting methods on per-minute counts, against numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.budget import budget_consumed_share, burn_rate
from app.core.budgeting import (
    BudgetResult,
    MinuteCounts,
    budget_for_method,
    occurrences_budget,
    ratio_timeslices_budget,
    slice_counts,
    timeslices_budget,
    value_slices_good,
    value_timeslices_budget,
    window_counts,
)
from app.core.sli_catalog import BudgetingMethod, Comparison
from app.core.windows import WindowCounts

T0 = datetime(2026, 1, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_occurrences_is_a_ratio_of_sums_without_excluded_minutes() -> None:
    minutes = [
        MinuteCounts(at(0), good=90, total=100),
        MinuteCounts(at(1), good=0, total=50),  # excluded
        MinuteCounts(at(2), good=10, total=10),
        MinuteCounts(at(60), good=0, total=5),  # after the window
    ]
    result = occurrences_budget(
        minutes, start=T0, end=at(60), excluded=[(at(1), at(1) + timedelta(seconds=1))], objective=0.9
    )
    assert result == BudgetResult(
        sli=100 / 110,
        good=100,
        total=110,
        bad=10,
        error_budget_remaining=1.0 - 10 / ((1.0 - 0.9) * 110),
        budget_consumed_events=10,
        method=BudgetingMethod.OCCURRENCES,
    )
    assert result.error_budget_remaining == pytest.approx(1 - 10 / 11)


def test_rows_for_the_same_minute_add_up() -> None:
    # A late label stored as its own row for a minute already counted.
    minutes = [MinuteCounts(at(5), good=3, total=4), MinuteCounts(at(5), good=0, total=1)]
    assert window_counts(minutes, start=T0, end=at(60)) == WindowCounts(good=3, total=5)


def test_a_minute_belongs_to_the_window_by_its_start() -> None:
    minutes = [MinuteCounts(at(m), good=1, total=1) for m in range(5)]
    assert window_counts(minutes, start=at(1), end=at(4)).total == 3
    # Bounds off the minute act as if rounded up: the bucket at 1 starts before 1:30.
    assert window_counts(minutes, start=at(1) + timedelta(seconds=30), end=at(4)).total == 2


def hourly(slices: list[tuple[int, int] | None]) -> list[MinuteCounts]:
    """One bucket per hour, at minute 17, with (good, total); None leaves the hour empty."""
    buckets = []
    for index, counts in enumerate(slices):
        if counts is not None:
            buckets.append(MinuteCounts(at(60 * index + 17), good=counts[0], total=counts[1]))
    return buckets


def test_timeslices_skip_an_empty_slice() -> None:
    minutes = hourly([(95, 100), None, (90, 100), (19, 20)])
    result = timeslices_budget(
        minutes, start=T0, end=at(240), objective=0.5, slice_length=HOUR, slice_target=0.95
    )
    # Slices: good (0.95 reaches the target), empty (not counted), bad (0.90), good (19/20 = 0.95 exactly).
    assert (result.good, result.total, result.bad) == (2, 3, 1)
    assert result.sli == 2 / 3
    assert result.error_budget_remaining == pytest.approx(1 - 1 / (0.5 * 3))
    assert result.budget_consumed_events == 5 + 10 + 1
    assert burn_rate(result, 0.5) == pytest.approx((1 / 3) / 0.5)


def test_a_wholly_excluded_slice_is_not_counted_and_a_partly_excluded_one_is_judged_on_the_rest() -> None:
    minutes = [
        MinuteCounts(at(10), good=0, total=10),  # slice 0, excluded
        MinuteCounts(at(70), good=0, total=10),  # slice 1, excluded
        MinuteCounts(at(80), good=10, total=10),  # slice 1, kept
    ]
    result = timeslices_budget(
        minutes,
        start=T0,
        end=at(120),
        excluded=[(at(0), at(75))],
        objective=0.9,
        slice_length=HOUR,
        slice_target=0.99,
    )
    assert (result.good, result.total, result.sli, result.budget_consumed_events) == (1, 1, 1.0, 0)


def test_slices_align_to_the_origin_and_are_cut_at_the_window_edges() -> None:
    minutes = [MinuteCounts(at(m), good=1, total=1) for m in (30, 59, 60, 89)]
    window = {"start": at(30), "end": at(90), "slice_length": HOUR}
    on_epoch = slice_counts(minutes, **window)  # type: ignore[arg-type]
    assert on_epoch == {T0: WindowCounts(2, 2), at(60): WindowCounts(2, 2)}
    on_start = slice_counts(minutes, **window, slice_origin=at(30))  # type: ignore[arg-type]
    assert on_start == {at(30): WindowCounts(4, 4)}


def test_ratio_timeslices_average_the_slice_ratios() -> None:
    minutes = hourly([(1, 2), (1000, 1000), None])
    result = ratio_timeslices_budget(minutes, start=T0, end=at(180), objective=0.5, slice_length=HOUR)
    assert result.sli == 0.75  # the ratio of sums would be 1001/1002
    assert (result.good, result.total, result.bad) == (1001, 1002, 1)
    assert result.error_budget_remaining == 1 - 0.25 / 0.5
    assert burn_rate(result, 0.5) == 0.5


def test_no_events_means_no_sli_and_a_full_budget() -> None:
    for method in BudgetingMethod:
        result = budget_for_method(
            method, [], start=T0, end=at(60), objective=0.99, slice_length=HOUR, slice_target=0.9
        )
        assert (result.sli, result.error_budget_remaining, result.method) == (None, 1.0, method)
        assert burn_rate(result, 0.99) is None


def test_budget_for_method_needs_the_slice_settings() -> None:
    with pytest.raises(ValueError, match="slice length"):
        budget_for_method(BudgetingMethod.RATIO_TIMESLICES, [], start=T0, end=at(60), objective=0.99)
    with pytest.raises(ValueError, match="slice target"):
        budget_for_method(
            BudgetingMethod.TIMESLICES, [], start=T0, end=at(60), objective=0.99, slice_length=HOUR
        )


@pytest.mark.parametrize(
    ("slice_length", "origin"),
    [(timedelta(seconds=90), T0), (timedelta(0), T0), (HOUR, T0 + timedelta(seconds=1))],
)
def test_slices_are_whole_minutes_from_a_whole_minute(slice_length: timedelta, origin: datetime) -> None:
    with pytest.raises(ValueError, match="minute"):
        slice_counts([], start=T0, end=at(60), slice_length=slice_length, slice_origin=origin)


def test_minute_counts_refuse_more_good_than_total() -> None:
    with pytest.raises(ValueError, match="good"):
        MinuteCounts(T0, good=2, total=1)


def test_value_slices_are_judged_against_the_threshold() -> None:
    drift_share = {at(0): 0.1, at(60): 0.5, at(120): None, at(180): 0.3}
    assert value_slices_good(drift_share, Comparison.LTE, 0.3) == {at(0): True, at(60): False, at(180): True}
    result = value_timeslices_budget(drift_share, op=Comparison.LTE, threshold=0.3, objective=0.5)
    assert (result.sli, result.good, result.total, result.bad) == (2 / 3, 2, 3, 1)
    assert result.error_budget_remaining == pytest.approx(1 - 1 / (0.5 * 3))


def test_workbook_a_14_4_burn_for_one_hour_spends_2_percent_of_a_30_day_budget() -> None:
    # 30 days at 1000 events a minute against 99.9%: a budget of 43,200 bad events. One hour at
    # burn rate 14.4 is an error ratio of 1.44%: 864 bad events out of 60,000.
    objective = 0.999
    period_minutes = 30 * 24 * 60
    incident_start = period_minutes - 60
    bad_per_minute = {incident_start + m: 15 if m < 24 else 14 for m in range(60)}  # 24*15 + 36*14 = 864
    minutes = [
        MinuteCounts(at(m), good=1000 - bad_per_minute.get(m, 0), total=1000) for m in range(period_minutes)
    ]
    end = at(period_minutes)
    last_hour = occurrences_budget(minutes, start=end - HOUR, end=end, objective=objective)
    period = occurrences_budget(minutes, start=T0, end=end, objective=objective)
    assert last_hour.bad == 864
    assert burn_rate(last_hour, objective) == pytest.approx(14.4)
    assert period.error_budget_remaining == pytest.approx(0.98)
    consumed = budget_consumed_share(last_hour.bad, WindowCounts(period.good, period.total), objective)
    assert consumed == pytest.approx(0.02)
