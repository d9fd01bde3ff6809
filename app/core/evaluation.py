"""One SLO evaluated at one instant: SLI, budget, burn rates, time to exhaustion, alert decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.budget import burn_rate, error_budget_remaining_by_objective, time_to_exhaustion
from app.core.budgeting import BudgetResult, occurrences_result
from app.core.burn_rate_policy import (
    AlertDecision,
    Severity,
    decide_alert,
    decide_count_based,
    permitted_severity,
)
from app.core.windows import ALERT_WINDOWS, WindowCounts, WindowMeasure

# Time to exhaustion is projected from the 1h burn: recent enough to react, long enough not to jitter.
EXHAUSTION_PROJECTION_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SloEvaluation:
    evaluated_at: datetime
    objective: float
    period: timedelta
    # Events counted over the SLO window (slices, for time-slice budgeting).
    good: int
    total: int
    bad: int
    sli: float | None
    error_budget_remaining: float
    burn_rates: dict[timedelta, float | None]
    time_to_exhaustion: timedelta | None
    alert: AlertDecision


def windows_needed(period: timedelta) -> tuple[timedelta, ...]:
    """Every window an evaluation reads: the alert windows and the period."""
    return tuple(sorted({*ALERT_WINDOWS, period}))


def evaluate_slo(
    *,
    counts_by_window: Mapping[timedelta, WindowMeasure],
    objective: float,
    period: timedelta,
    now: datetime,
    min_events: int = 1,
    objective_segments: Sequence[tuple[WindowCounts, float]] | None = None,
    period_result: BudgetResult | None = None,
    holding: Severity | None = None,
) -> SloEvaluation:
    """The SLI and budget come from `period_result` when the caller budgeted the window itself
    (time slices, calendar windows, exclusions), else from the period's counts; with
    `objective_segments` a changed objective applies from the change on. Burn rates use the current
    objective. `holding` is the severity of the SLO's open breach, for hysteresis."""
    if period_result is None:
        counts = counts_by_window[period]
        if not isinstance(counts, WindowCounts):
            raise TypeError("without a period_result, the period's counts must be WindowCounts")
        period_result = occurrences_result(counts, objective)
    remaining = (
        error_budget_remaining_by_objective(objective_segments)
        if objective_segments
        else period_result.error_budget_remaining
    )
    burn_rates = {window: burn_rate(counts_by_window[window], objective) for window in ALERT_WINDOWS}
    return SloEvaluation(
        evaluated_at=now,
        objective=objective,
        period=period,
        good=period_result.good,
        total=period_result.total,
        bad=period_result.bad,
        sli=period_result.sli,
        error_budget_remaining=remaining,
        burn_rates=burn_rates,
        time_to_exhaustion=time_to_exhaustion(remaining, burn_rates[EXHAUSTION_PROJECTION_WINDOW], period),
        alert=decide_alert(counts_by_window, objective, period, min_events, holding),
    )


def final_severity(
    evaluation: SloEvaluation,
    *,
    max_bad_events: int | None,
    allow_page: bool,
    allow_ticket: bool,
) -> Severity | None:
    """The severity that acts: the count rule for SLOs that declare one, else the burn-rate
    decision, then limited by what the phase and the SLO allow."""
    decided = (
        decide_count_based(evaluation.bad, max_bad_events)
        if max_bad_events is not None
        else evaluation.alert.severity
    )
    return permitted_severity(decided, allow_page=allow_page, allow_ticket=allow_ticket)


def data_missing(
    *, last_collected: datetime | None, expected_since: datetime, now: datetime, allowed_gap: timedelta
) -> bool:
    """A collected SLI is missing when no collection has succeeded for longer than `allowed_gap`
    (counted from when collection was expected to begin, if it never succeeded): the SLO can then
    neither burn nor recover, which deserves its own alert (like Pyrra's SLOMetricAbsent)."""
    reference = last_collected if last_collected is not None else expected_since
    return now - reference > allowed_gap
