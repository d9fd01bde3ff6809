"""The Workbook's promises, replayed minute by minute through the core decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.budget import budget_consumed_share
from app.core.burn_rate_policy import Severity
from app.core.evaluation import evaluate_slo, windows_needed
from app.core.windows import WindowCounts

PERIOD = timedelta(days=30)
OBJECTIVE = 0.999
PER_MINUTE = 10_000


def _counts(
    minutes_since_start: int, error_ratio: float, history_minutes: int
) -> dict[timedelta, WindowCounts]:
    """Steady traffic: `history_minutes` clean minutes, then `minutes_since_start` minutes at `error_ratio`."""
    bad_per_minute = round(PER_MINUTE * error_ratio)
    counts = {}
    for window in windows_needed(PERIOD):
        window_minutes = int(window.total_seconds() // 60)
        burning = min(window_minutes, minutes_since_start)
        clean = min(window_minutes - burning, history_minutes)
        total = (burning + clean) * PER_MINUTE
        counts[window] = WindowCounts(good=total - burning * bad_per_minute, total=total)
    return counts


def _first_page(error_ratio: float) -> tuple[int, float]:
    """Minutes until the page fires, and the share of the 30-day budget spent by then."""
    history = int(PERIOD.total_seconds() // 60)
    for minute in range(1, 24 * 60):
        counts = _counts(minute, error_ratio, history)
        evaluation = evaluate_slo(
            counts_by_window=counts, objective=OBJECTIVE, period=PERIOD, now=datetime(2026, 1, 5, tzinfo=UTC)
        )
        if evaluation.alert.severity is Severity.PAGE:
            bad = minute * round(PER_MINUTE * error_ratio)
            return minute, budget_consumed_share(bad, counts[PERIOD], OBJECTIVE)
    raise AssertionError("never paged")


def test_a_burn_just_above_14_4_pages_after_about_2_percent_of_the_budget() -> None:
    minute, spent = _first_page(error_ratio=0.0145)  # a 14.5x burn
    assert 58 <= minute <= 60  # the 1h window crosses 14.4x just before the hour is full
    assert spent == pytest.approx(0.02, abs=0.001)


def test_a_total_outage_pages_at_the_first_minute() -> None:
    # Workbook: detection time = B / error_ratio x long window x factor = 0.001 x 60 min x 14.4 = 0.86
    # minutes, when 2% of the budget is gone. Counted in whole minutes, the page comes at the end of
    # the first minute, with one minute of a 30-day budget spent: 1/43.2 = 2.3%.
    minute, spent = _first_page(error_ratio=1.0)
    assert minute == 1
    assert spent == pytest.approx(1 / 43.2)
