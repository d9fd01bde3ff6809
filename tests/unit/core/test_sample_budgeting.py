"""Budgets from collected readings: value SLIs judged slice by slice, ratio SLIs averaged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.sample_budgeting import Sample, by_slice, ratio_samples_budget, value_samples_budget
from app.core.sli_catalog import BudgetingMethod, Comparison

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_slice_is_good_only_when_every_reading_in_it_is_good() -> None:
    # Ages in seconds, read every 15 minutes; a good hour stays at or under 3600 s throughout.
    readings = [Sample(at(m), v) for m, v in [(0, 100), (15, 200), (30, 4000), (45, 300), (60, 100)]]
    readings += [Sample(at(m), 50) for m in (120, 135, 150, 165)]

    result = value_samples_budget(
        readings,
        start=T0,
        end=at(180),
        op=Comparison.LTE,
        threshold=3600,
        objective=0.5,
        slice_length=HOUR,
    )

    # Hour 0 has one stale reading: bad. Hours 1 and 2 are good.
    assert (result.good, result.total, result.bad) == (2, 3, 1)
    assert result.sli == pytest.approx(2 / 3)
    # One bad slice of three against a budget of half the slices: 1 - 1 / 1.5.
    assert result.error_budget_remaining == pytest.approx(1 - 1 / 1.5)
    assert result.method is BudgetingMethod.TIMESLICES


def test_a_failed_collection_counted_as_bad_makes_its_slice_bad() -> None:
    readings = [Sample(at(0), 0.1), Sample(at(30), None), Sample(at(60), 0.1)]
    result = value_samples_budget(
        readings, start=T0, end=at(120), op=Comparison.LTE, threshold=0.3, objective=0.9, slice_length=HOUR
    )
    assert (result.good, result.total) == (1, 2)


def test_readings_outside_the_window_or_in_excluded_time_do_not_count() -> None:
    readings = [Sample(at(-10), 9.0), Sample(at(5), 9.0), Sample(at(65), 0.0), Sample(at(125), 0.0)]
    result = value_samples_budget(
        readings,
        start=T0,
        end=at(120),
        excluded=[(at(0), at(10))],
        op=Comparison.LT,
        threshold=1.0,
        objective=0.9,
        slice_length=HOUR,
    )
    # Only the reading at minute 65 counts: one good slice.
    assert (result.good, result.total, result.sli) == (1, 1, 1.0)


def test_no_readings_leave_the_budget_untouched() -> None:
    result = value_samples_budget(
        [], start=T0, end=at(60), op=Comparison.GTE, threshold=0.8, objective=0.9, slice_length=HOUR
    )
    assert (result.sli, result.total, result.error_budget_remaining) == (None, 0, 1.0)


def test_slices_align_on_the_origin() -> None:
    origin = at(30)
    groups = by_slice([Sample(at(29), 1.0), Sample(at(30), 1.0), Sample(at(89), 1.0)], HOUR, origin)
    assert list(groups) == [at(-30), at(30)]
    assert [len(group) for group in groups.values()] == [1, 2]


RATIOS = [Sample(at(0), 1.0), Sample(at(5), 0.9), Sample(at(60), 0.99), Sample(at(65), None)]


def test_ratio_occurrences_is_the_mean_of_the_readings() -> None:
    result = ratio_samples_budget(
        RATIOS, method=BudgetingMethod.OCCURRENCES, start=T0, end=at(120), objective=0.95
    )
    # A failed collection counted as bad is a ratio of 0.
    assert result.sli == pytest.approx((1.0 + 0.9 + 0.99 + 0.0) / 4)
    assert result.error_ratio == pytest.approx(1 - result.sli)
    # Readings that reach the objective: 1.0 and 0.99.
    assert (result.good, result.total) == (2, 4)
    assert result.error_budget_remaining == pytest.approx(1 - (1 - result.sli) / 0.05)


def test_ratio_timeslices_is_the_mean_of_slice_means() -> None:
    result = ratio_samples_budget(
        RATIOS,
        method=BudgetingMethod.RATIO_TIMESLICES,
        start=T0,
        end=at(120),
        objective=0.9,
        slice_length=HOUR,
    )
    assert result.sli == pytest.approx(((1.0 + 0.9) / 2 + (0.99 + 0.0) / 2) / 2)


def test_timeslices_count_slices_whose_mean_ratio_reaches_the_target() -> None:
    result = ratio_samples_budget(
        RATIOS,
        method=BudgetingMethod.TIMESLICES,
        start=T0,
        end=at(120),
        objective=0.5,
        slice_length=HOUR,
        slice_target=0.95,
    )
    # Hour 0 averages 0.95 (good, compared exactly); hour 1 averages 0.495 (bad).
    assert (result.good, result.total) == (1, 2)


def test_a_ratio_outside_zero_and_one_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        ratio_samples_budget(
            [Sample(at(0), 1.5)], method=BudgetingMethod.OCCURRENCES, start=T0, end=at(60), objective=0.9
        )


@given(st.lists(st.fractions(min_value=0, max_value=1, max_denominator=1000), min_size=1, max_size=40))
def test_ratio_occurrences_equals_the_exact_mean(ratios: list[Fraction]) -> None:
    readings = [Sample(at(minute), float(ratio)) for minute, ratio in enumerate(ratios)]
    result = ratio_samples_budget(
        readings, method=BudgetingMethod.OCCURRENCES, start=T0, end=at(len(ratios)), objective=0.9
    )
    exact = sum((Fraction(float(ratio)) for ratio in ratios), Fraction(0)) / len(ratios)
    assert result.sli == float(exact)
