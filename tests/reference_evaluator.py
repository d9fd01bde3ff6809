"""A brute-force evaluator over raw events, for checking the engine (app.core.budgeting) against.

Deliberately naive and independent of the engine: it walks the clock minute by minute to find
calendar windows, expands recurrences on naive local times, looks at every event against every
excluded span, and groups slices with a dict. It shares only dataclass types with the engine.

Semantics it encodes (the engine must agree):
- an event counts when start <= its time < end (bounds are whole minutes);
- an event is excluded when its minute [floor(t), floor(t) + 1min) overlaps an excluded span
  [occurrence, occurrence + duration), the occurrence being the rule's first start or an
  occurrence of its recurrence in local wall time, and the duration elapsed time;
- slice k is [origin + k·length, origin + (k+1)·length); slices without counted events are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from app.core.budgeting import BudgetResult
from app.core.exclusions import ExclusionRule
from app.core.sli_catalog import BudgetingMethod, Comparison

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RawEvent:
    time: datetime
    good: bool


def reference_rolling_window(period: timedelta, now: datetime) -> tuple[datetime, datetime]:
    return now - period, now


def reference_calendar_window(unit: str, time_zone: str, now: datetime) -> tuple[datetime, datetime]:
    """Walk the clock: the first and last minute whose local calendar unit is the one of `now`."""
    zone = ZoneInfo(time_zone)

    def unit_of(moment: datetime) -> tuple[int, ...]:
        local = moment.astimezone(zone)
        if unit == "day":
            return (local.year, local.month, local.day)
        if unit == "week":
            year, week, _ = local.isocalendar()
            return (year, week)
        if unit == "month":
            return (local.year, local.month)
        if unit == "quarter":
            return (local.year, (local.month - 1) // 3)
        raise ValueError(unit)

    here = unit_of(now)
    first = now.astimezone(UTC).replace(second=0, microsecond=0)
    while unit_of(first - timedelta(hours=1)) == here:
        first -= timedelta(hours=1)
    while unit_of(first - timedelta(minutes=1)) == here:
        first -= timedelta(minutes=1)
    last = now.astimezone(UTC).replace(second=0, microsecond=0)
    while unit_of(last + timedelta(hours=1)) == here:
        last += timedelta(hours=1)
    while unit_of(last + timedelta(minutes=1)) == here:
        last += timedelta(minutes=1)
    return first, last + timedelta(minutes=1)


def excluded_spans(exclusions: Sequence[ExclusionRule], until: datetime) -> list[tuple[datetime, datetime]]:
    """Every excluded span starting before `until`, unmerged, in UTC."""
    spans: list[tuple[datetime, datetime]] = []
    for rule in exclusions:
        first = rule.first_start.astimezone(UTC)
        spans.append((first, first + rule.duration))
        if rule.rrule is None:
            continue
        zone = ZoneInfo(rule.time_zone)
        local_first = rule.first_start.astimezone(zone).replace(tzinfo=None)
        local_limit = until.astimezone(zone).replace(tzinfo=None) + timedelta(days=2)
        for local_start in rrulestr(rule.rrule, dtstart=local_first):
            if local_start > local_limit:
                break
            start = local_start.replace(tzinfo=zone).astimezone(UTC)
            spans.append((start, start + rule.duration))
    return spans


def counted_events(
    events: Iterable[RawEvent], *, start: datetime, end: datetime, exclusions: Sequence[ExclusionRule]
) -> list[RawEvent]:
    spans = excluded_spans(exclusions, end)
    kept = []
    for event in events:
        if not start <= event.time < end:
            continue
        minute = event.time.astimezone(UTC).replace(second=0, microsecond=0)
        if any(lower < minute + timedelta(minutes=1) and upper > minute for lower, upper in spans):
            continue
        kept.append(event)
    return kept


def reference_budget(
    events: Iterable[RawEvent],
    *,
    start: datetime,
    end: datetime,
    exclusions: Sequence[ExclusionRule],
    method: BudgetingMethod,
    objective: float,
    slice_length: timedelta | None = None,
    slice_target: float | None = None,
    slice_origin: datetime = UNIX_EPOCH,
) -> BudgetResult:
    kept = counted_events(events, start=start, end=end, exclusions=exclusions)
    good_events = len([event for event in kept if event.good])
    bad_events = len(kept) - good_events
    if method == BudgetingMethod.OCCURRENCES:
        total = len(kept)
        return BudgetResult(
            sli=good_events / total if total else None,
            good=good_events,
            total=total,
            bad=bad_events,
            error_budget_remaining=1.0 - bad_events / ((1.0 - objective) * total) if total else 1.0,
            budget_consumed_events=bad_events,
            method=method,
        )
    assert slice_length is not None
    slices: dict[int, list[int]] = {}
    for event in kept:
        index = (event.time - slice_origin) // slice_length
        slices.setdefault(index, [0, 0])
        slices[index][0] += 1 if event.good else 0
        slices[index][1] += 1
    if method == BudgetingMethod.TIMESLICES:
        assert slice_target is not None
        good_slices = len([1 for good, total in slices.values() if Fraction(good, total) >= slice_target])
        counted = len(slices)
        bad_slices = counted - good_slices
        return BudgetResult(
            sli=good_slices / counted if counted else None,
            good=good_slices,
            total=counted,
            bad=bad_slices,
            error_budget_remaining=1.0 - bad_slices / ((1.0 - objective) * counted) if counted else 1.0,
            budget_consumed_events=bad_events,
            method=method,
        )
    ratios = [Fraction(good, total) for good, total in slices.values()]
    mean = float(sum(ratios, Fraction(0)) / len(ratios)) if ratios else None
    return BudgetResult(
        sli=mean,
        good=good_events,
        total=len(kept),
        bad=bad_events,
        error_budget_remaining=1.0 - (1.0 - mean) / (1.0 - objective) if mean is not None else 1.0,
        budget_consumed_events=bad_events,
        method=method,
    )


def reference_value_budget(
    values_by_slice: Mapping[datetime, float | None], *, op: Comparison, threshold: float, objective: float
) -> BudgetResult:
    good = bad = 0
    for value in values_by_slice.values():
        if value is None:
            continue
        meets = {
            "lt": value < threshold,
            "lte": value <= threshold,
            "gt": value > threshold,
            "gte": value >= threshold,
        }[op.value]
        good += meets
        bad += not meets
    total = good + bad
    return BudgetResult(
        sli=good / total if total else None,
        good=good,
        total=total,
        bad=bad,
        error_budget_remaining=1.0 - bad / ((1.0 - objective) * total) if total else 1.0,
        budget_consumed_events=bad,
        method=BudgetingMethod.TIMESLICES,
    )
