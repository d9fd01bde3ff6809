"""Error-budget maths (Google SRE Workbook, "Alerting on SLOs")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from app.core.windows import WindowCounts, WindowMeasure

# Workbook error-budget policy: a single incident that consumes more than 20% of the budget
# requires a postmortem.
POSTMORTEM_REQUIRED_SHARE = 0.20


def postmortem_required(budget_consumed: float) -> bool:
    return budget_consumed > POSTMORTEM_REQUIRED_SHARE


def error_budget(objective: float) -> float:
    """The budget B = 1 - objective, as a ratio of events allowed to be bad."""
    if not 0.0 < objective < 1.0:
        raise ValueError(f"objective must be strictly between 0 and 1, got {objective}")
    return 1.0 - objective


def burn_rate(counts: WindowMeasure, objective: float) -> float | None:
    """BR(W) = error_ratio(W) / B. A burn rate of 1 spends the budget in exactly one SLO period."""
    error_ratio = counts.error_ratio
    if error_ratio is None:
        return None
    return error_ratio / error_budget(objective)


def error_budget_remaining(period_counts: WindowCounts, objective: float) -> float:
    """Share of the period's budget still unspent: 1 - bad / (B * total). Negative once overspent."""
    if period_counts.total == 0:
        return 1.0
    allowed_bad = error_budget(objective) * period_counts.total
    return 1.0 - period_counts.bad / allowed_bad


def error_budget_remaining_by_objective(segments: Sequence[tuple[WindowCounts, float]]) -> float:
    """Budget remaining when the objective changed inside the window: each stretch of events is
    allowed the bad events of the objective in force while it happened."""
    bad = sum(counts.bad for counts, _ in segments)
    allowed_bad = sum(error_budget(objective) * counts.total for counts, objective in segments)
    if allowed_bad == 0:
        return 1.0
    return 1.0 - bad / allowed_bad


def budget_consumed_share(bad_events: int, period_counts: WindowCounts, objective: float) -> float:
    """Share of the period's budget that `bad_events` account for."""
    if period_counts.total == 0:
        return 0.0
    return bad_events / (error_budget(objective) * period_counts.total)


def time_to_exhaustion(
    budget_remaining: float, current_burn_rate: float | None, period: timedelta
) -> timedelta | None:
    """How long until the budget is gone if the current burn rate holds.

    None when nothing is burning; zero when the budget is already spent.
    """
    if budget_remaining <= 0:
        return timedelta(0)
    if current_burn_rate is None or current_burn_rate <= 0:
        return None
    return period * (budget_remaining / current_burn_rate)
