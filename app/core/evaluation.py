"""One SLO evaluated at one instant: SLI, budget, burn rates, time to exhaustion, alert decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.budget import burn_rate, error_budget_remaining, time_to_exhaustion
from app.core.burn_rate_policy import AlertDecision, decide_alert
from app.core.windows import ALERT_WINDOWS, WindowCounts

# Time to exhaustion is projected from the 1h burn: recent enough to react, long enough not to jitter.
EXHAUSTION_PROJECTION_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SloEvaluation:
    evaluated_at: datetime
    objective: float
    period: timedelta
    period_counts: WindowCounts
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
    counts_by_window: Mapping[timedelta, WindowCounts],
    objective: float,
    period: timedelta,
    now: datetime,
    min_events: int = 1,
) -> SloEvaluation:
    period_counts = counts_by_window[period]
    remaining = error_budget_remaining(period_counts, objective)
    burn_rates = {window: burn_rate(counts_by_window[window], objective) for window in ALERT_WINDOWS}
    return SloEvaluation(
        evaluated_at=now,
        objective=objective,
        period=period,
        period_counts=period_counts,
        sli=period_counts.good_ratio,
        error_budget_remaining=remaining,
        burn_rates=burn_rates,
        time_to_exhaustion=time_to_exhaustion(remaining, burn_rates[EXHAUSTION_PROJECTION_WINDOW], period),
        alert=decide_alert(counts_by_window, objective, period, min_events),
    )
