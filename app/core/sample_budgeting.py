"""Budgets from collected samples: one number per collection instead of event counts.

Two kinds of SLI are collected as samples:
- **Value SLIs** (an age, a drift share, an F1 score): each sample is judged against the objective's
  threshold (`op threshold`). A slice is good when every sample in it is good, so one bad reading
  makes its slice bad (the strict reading of "the p99 stayed under 300ms in this minute"). Budgeted
  with time slices: good slices / slices with a sample.
- **Ratio SLIs** (an event SLI whose source gives only the good ratio of each collection window,
  like Sloth's `errorRatioQuery`): a slice's ratio is the mean of its samples. Budgeted as the
  method asks: `timeslices` counts slices whose ratio reaches the slice target; `ratio_timeslices`
  is the mean of slice ratios; `occurrences` is the mean of the sample ratios (each sample stands
  for its collection window, so this equals the event ratio when traffic is even across windows;
  there are no counts to weigh it by).

A **failed** sample (`value is None`) is a collection that gave nothing but that the SLO counts as
bad (`missing_data.count_as: bad`): a bad reading for value SLIs, a ratio of 0 for ratio SLIs.
Collections that failed without that setting are gaps and are not samples at all.

Samples whose time falls in an excluded interval are left out, as are samples outside [start, end).
Slices are aligned on `slice_origin` as in `app.core.budgeting`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from app.core.budget import error_budget
from app.core.budgeting import BudgetResult, counted_result
from app.core.exclusions import EPOCH, Interval, merge_intervals
from app.core.sli_catalog import BudgetingMethod, Comparison
from app.core.windows import WindowCounts


@dataclass(frozen=True, slots=True)
class Sample:
    """One collection's reading at `at`: a value, or None for a failed collection counted as bad."""

    at: datetime
    value: float | None


def counted_samples(
    samples: Iterable[Sample], *, start: datetime, end: datetime, excluded: Sequence[Interval] = ()
) -> list[Sample]:
    """The samples in [start, end) outside excluded time, in time order."""
    intervals = merge_intervals(excluded)
    return sorted(
        (
            sample
            for sample in samples
            if start <= sample.at < end and not any(low <= sample.at < high for low, high in intervals)
        ),
        key=lambda sample: sample.at,
    )


def by_slice(
    samples: Iterable[Sample], slice_length: timedelta, slice_origin: datetime = EPOCH
) -> dict[datetime, list[Sample]]:
    """Samples grouped by the start of the slice they fall in, in time order."""
    if slice_length <= timedelta(0):
        raise ValueError(f"a slice must be longer than zero, got {slice_length}")
    groups: dict[datetime, list[Sample]] = {}
    for sample in samples:
        slice_start = slice_origin + slice_length * ((sample.at - slice_origin) // slice_length)
        groups.setdefault(slice_start, []).append(sample)
    return dict(sorted(groups.items()))


def value_samples_budget(
    samples: Iterable[Sample],
    *,
    start: datetime,
    end: datetime,
    excluded: Sequence[Interval] = (),
    op: Comparison,
    threshold: float,
    objective: float,
    slice_length: timedelta,
    slice_origin: datetime = EPOCH,
) -> BudgetResult:
    """Good slices / slices with a sample; a slice is good when all its samples meet the threshold."""
    slices = by_slice(
        counted_samples(samples, start=start, end=end, excluded=excluded), slice_length, slice_origin
    )
    good = sum(
        1
        for group in slices.values()
        if all(sample.value is not None and op.holds(sample.value, threshold) for sample in group)
    )
    counts = WindowCounts(good=good, total=len(slices))
    return counted_result(counts, objective, BudgetingMethod.TIMESLICES, consumed_events=counts.bad)


def ratio_samples_budget(
    samples: Iterable[Sample],
    *,
    method: BudgetingMethod,
    start: datetime,
    end: datetime,
    excluded: Sequence[Interval] = (),
    objective: float,
    slice_length: timedelta | None = None,
    slice_target: float | None = None,
    slice_origin: datetime = EPOCH,
) -> BudgetResult:
    """The budget of good-ratio samples under `method` (see the module's rules). `good`/`total`
    count slices (samples, for occurrences) and `bad` those below the target (the objective, for
    the mean-based methods), so alert rules can require a minimum number of them."""
    counted = counted_samples(samples, start=start, end=end, excluded=excluded)
    for sample in counted:
        if sample.value is not None and not 0.0 <= sample.value <= 1.0:
            raise ValueError(f"a ratio sample must be between 0 and 1, got {sample.value} at {sample.at}")
    if method is BudgetingMethod.OCCURRENCES:
        ratios = [_ratio(sample) for sample in counted]
    else:
        if slice_length is None:
            raise ValueError(f"{method.value} budgeting needs a slice length")
        ratios = [
            sum((_ratio(sample) for sample in group), Fraction(0)) / len(group)
            for group in by_slice(counted, slice_length, slice_origin).values()
        ]
    if method is BudgetingMethod.TIMESLICES:
        if slice_target is None:
            raise ValueError("timeslices budgeting needs a slice target")
        target = Fraction(slice_target)
        counts = WindowCounts(good=sum(1 for ratio in ratios if ratio >= target), total=len(ratios))
        return counted_result(counts, objective, BudgetingMethod.TIMESLICES, consumed_events=counts.bad)
    sli = float(sum(ratios, Fraction(0)) / len(ratios)) if ratios else None
    meeting = sum(1 for ratio in ratios if ratio >= Fraction(objective))
    return BudgetResult(
        sli=sli,
        good=meeting,
        total=len(ratios),
        bad=len(ratios) - meeting,
        error_budget_remaining=1.0 if sli is None else 1.0 - (1.0 - sli) / error_budget(objective),
        budget_consumed_events=len(ratios) - meeting,
        # The error ratio of a mean of ratios is 1 - SLI, which is what RATIO_TIMESLICES reports.
        method=BudgetingMethod.RATIO_TIMESLICES,
    )


def _ratio(sample: Sample) -> Fraction:
    return Fraction(0) if sample.value is None else Fraction(sample.value)
