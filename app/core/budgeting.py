"""SLI and error budget of one window under each budgeting method, from per-minute counts.

The three OpenSLO methods:
- occurrences: Σgood / Σtotal over the window's counted minutes (a ratio of sums);
- timeslices: the share of good slices, a slice being good when its ratio reaches `slice_target`;
- ratio_timeslices: the mean of the per-slice ratios.

Rules shared by all three:
- A minute bucket belongs to the window when its start is in [start, end); pass whole-minute
  bounds (calendar windows are; floor a rolling window's `now` to the minute).
- Excluded minutes (see `app.core.exclusions`) are removed from good and total alike.
- Slices are [origin + k·length, origin + (k+1)·length). The default origin, the Unix epoch, keeps
  a rolling window's slices fixed as it slides, so a finished slice keeps its verdict; pass the
  window start for calendar windows to align slices with local days. Slices at the window's edges
  are cut to the window.
- A slice with no counted events (empty, or wholly excluded) is neither good nor bad: it is left
  out of the slice count. A partly excluded slice is judged on its remaining minutes.
- Budget remaining is 1 - bad / ((1 - objective) · total) for occurrences (events) and timeslices
  (slices), and 1 - (1 - SLI) / (1 - objective) for ratio_timeslices; 1.0 when nothing counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from app.core.budget import error_budget, error_budget_remaining
from app.core.exclusions import EPOCH, MINUTE, Interval, merge_intervals, minute_is_excluded
from app.core.sli_catalog import BudgetingMethod, Comparison
from app.core.windows import WindowCounts


@dataclass(frozen=True, slots=True)
class MinuteCounts:
    """Good and total events whose event time falls in [minute, minute + 1min). Several rows for
    the same minute (a late arrival stored apart, another partition) add up."""

    minute: datetime
    good: int
    total: int

    def __post_init__(self) -> None:
        if self.good < 0 or self.good > self.total:
            raise ValueError(f"need 0 <= good <= total, got good={self.good} total={self.total}")


@dataclass(frozen=True, slots=True)
class BudgetResult:
    """One window's SLI and budget.

    `good`, `total` and `bad` count events for occurrences and ratio_timeslices, and counted
    slices for timeslices (event or value SLIs). `budget_consumed_events` is the absolute number
    of bad events counted in the window (bad slices for value SLIs, which have no events).
    """

    sli: float | None
    good: int
    total: int
    bad: int
    error_budget_remaining: float
    budget_consumed_events: int
    method: BudgetingMethod

    @property
    def error_ratio(self) -> float | None:
        """The share of the budget's unit that went bad: bad / total, or 1 - SLI for the mean of
        ratios. None when nothing counted."""
        if self.sli is None:
            return None
        if self.method is BudgetingMethod.RATIO_TIMESLICES:
            return 1.0 - self.sli
        return self.bad / self.total


def counted_minutes(
    minutes: Iterable[MinuteCounts], *, start: datetime, end: datetime, excluded: Sequence[Interval]
) -> Iterator[MinuteCounts]:
    """The buckets that count: minute start in [start, end), and not overlapping excluded time."""
    intervals = merge_intervals(excluded)
    for bucket in minutes:
        if start <= bucket.minute < end and not minute_is_excluded(bucket.minute, intervals):
            yield bucket


def window_counts(
    minutes: Iterable[MinuteCounts], *, start: datetime, end: datetime, excluded: Sequence[Interval] = ()
) -> WindowCounts:
    """Σgood and Σtotal over the window's counted minutes."""
    good = total = 0
    for bucket in counted_minutes(minutes, start=start, end=end, excluded=excluded):
        good += bucket.good
        total += bucket.total
    return WindowCounts(good=good, total=total)


def slice_counts(
    minutes: Iterable[MinuteCounts],
    *,
    start: datetime,
    end: datetime,
    excluded: Sequence[Interval] = (),
    slice_length: timedelta,
    slice_origin: datetime = EPOCH,
) -> dict[datetime, WindowCounts]:
    """Counts per slice start, for the slices that have counted events, in time order."""
    _check_slices(slice_length, slice_origin)
    sums: dict[datetime, tuple[int, int]] = {}
    for bucket in counted_minutes(minutes, start=start, end=end, excluded=excluded):
        if bucket.total == 0:
            continue
        slice_start = slice_origin + slice_length * ((bucket.minute - slice_origin) // slice_length)
        good, total = sums.get(slice_start, (0, 0))
        sums[slice_start] = (good + bucket.good, total + bucket.total)
    return {key: WindowCounts(good=good, total=total) for key, (good, total) in sorted(sums.items())}


def occurrences_budget(
    minutes: Iterable[MinuteCounts],
    *,
    start: datetime,
    end: datetime,
    excluded: Sequence[Interval] = (),
    objective: float,
) -> BudgetResult:
    return occurrences_result(window_counts(minutes, start=start, end=end, excluded=excluded), objective)


def occurrences_result(counts: WindowCounts, objective: float) -> BudgetResult:
    """The occurrences budget of counts already summed (by the database, say)."""
    return counted_result(counts, objective, BudgetingMethod.OCCURRENCES, consumed_events=counts.bad)


def counted_result(
    counts: WindowCounts, objective: float, method: BudgetingMethod, *, consumed_events: int
) -> BudgetResult:
    """A budget over counted units: events for occurrences, slices for the time-slice methods."""
    return BudgetResult(
        sli=counts.good_ratio,
        good=counts.good,
        total=counts.total,
        bad=counts.bad,
        error_budget_remaining=error_budget_remaining(counts, objective),
        budget_consumed_events=consumed_events,
        method=method,
    )


def timeslices_budget(
    minutes: Iterable[MinuteCounts],
    *,
    start: datetime,
    end: datetime,
    excluded: Sequence[Interval] = (),
    objective: float,
    slice_length: timedelta,
    slice_target: float,
    slice_origin: datetime = EPOCH,
) -> BudgetResult:
    """Good slices / counted slices; a slice is good when good/total >= slice_target, compared
    exactly (no float rounding of the slice's ratio)."""
    if not 0.0 <= slice_target <= 1.0:
        raise ValueError(f"slice_target must be between 0 and 1, got {slice_target}")
    slices = slice_counts(
        minutes,
        start=start,
        end=end,
        excluded=excluded,
        slice_length=slice_length,
        slice_origin=slice_origin,
    ).values()
    target = Fraction(slice_target)
    good_slices = sum(1 for counts in slices if Fraction(counts.good, counts.total) >= target)
    return counted_result(
        WindowCounts(good=good_slices, total=len(slices)),
        objective,
        BudgetingMethod.TIMESLICES,
        consumed_events=sum(counts.bad for counts in slices),
    )


def ratio_timeslices_budget(
    minutes: Iterable[MinuteCounts],
    *,
    start: datetime,
    end: datetime,
    excluded: Sequence[Interval] = (),
    objective: float,
    slice_length: timedelta,
    slice_origin: datetime = EPOCH,
) -> BudgetResult:
    """The mean of per-slice ratios, computed exactly and rounded once, so it does not depend on
    the order of the slices."""
    slices = slice_counts(
        minutes,
        start=start,
        end=end,
        excluded=excluded,
        slice_length=slice_length,
        slice_origin=slice_origin,
    ).values()
    sli = (
        float(sum((Fraction(counts.good, counts.total) for counts in slices), Fraction(0)) / len(slices))
        if slices
        else None
    )
    good = sum(counts.good for counts in slices)
    total = sum(counts.total for counts in slices)
    return BudgetResult(
        sli=sli,
        good=good,
        total=total,
        bad=total - good,
        error_budget_remaining=_remaining_from_sli(sli, objective),
        budget_consumed_events=total - good,
        method=BudgetingMethod.RATIO_TIMESLICES,
    )


def budget_for_method(
    method: BudgetingMethod,
    minutes: Iterable[MinuteCounts],
    *,
    start: datetime,
    end: datetime,
    excluded: Sequence[Interval] = (),
    objective: float,
    slice_length: timedelta | None = None,
    slice_target: float | None = None,
    slice_origin: datetime = EPOCH,
) -> BudgetResult:
    """Dispatch on the SLO's budgeting method (event SLIs)."""
    if method is BudgetingMethod.OCCURRENCES:
        return occurrences_budget(minutes, start=start, end=end, excluded=excluded, objective=objective)
    if slice_length is None:
        raise ValueError(f"{method.value} budgeting needs a slice length")
    if method is BudgetingMethod.TIMESLICES:
        if slice_target is None:
            raise ValueError("timeslices budgeting of events needs a slice target")
        return timeslices_budget(
            minutes,
            start=start,
            end=end,
            excluded=excluded,
            objective=objective,
            slice_length=slice_length,
            slice_target=slice_target,
            slice_origin=slice_origin,
        )
    return ratio_timeslices_budget(
        minutes,
        start=start,
        end=end,
        excluded=excluded,
        objective=objective,
        slice_length=slice_length,
        slice_origin=slice_origin,
    )


def value_slices_good(
    values_by_slice: Mapping[datetime, float | None], op: Comparison, threshold: float
) -> dict[datetime, bool]:
    """Each slice with a value, and whether that value meets `op threshold`. Slices without a
    value (None) are left out, as are slices the caller removed for exclusions."""
    return {
        slice_start: op.holds(value, threshold)
        for slice_start, value in sorted(values_by_slice.items())
        if value is not None
    }


def value_timeslices_budget(
    values_by_slice: Mapping[datetime, float | None], *, op: Comparison, threshold: float, objective: float
) -> BudgetResult:
    """Value SLIs (an F1 score, a drift share): good slices / slices with a value."""
    verdicts = value_slices_good(values_by_slice, op, threshold)
    counts = WindowCounts(good=sum(verdicts.values()), total=len(verdicts))
    return counted_result(counts, objective, BudgetingMethod.TIMESLICES, consumed_events=counts.bad)


def _remaining_from_sli(sli: float | None, objective: float) -> float:
    budget = error_budget(objective)
    return 1.0 if sli is None else 1.0 - (1.0 - sli) / budget


def _check_slices(slice_length: timedelta, slice_origin: datetime) -> None:
    if slice_length <= timedelta(0) or slice_length % MINUTE:
        raise ValueError(f"a slice is a positive whole number of minutes, got {slice_length}")
    if (slice_origin - EPOCH) % MINUTE:
        raise ValueError(f"slices must start on a whole minute, got origin {slice_origin.isoformat()}")
