"""Multiwindow, multi-burn-rate rules: the Workbook's table and Sloth's scaling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.breach_state import BreachTransition, breach_transition
from app.core.burn_rate_policy import Severity, decide_alert, rules_for_period
from app.core.evaluation import evaluate_slo, windows_needed
from app.core.windows import WindowCounts

HOUR = timedelta(hours=1)
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_thirty_day_factors_are_the_workbook_table() -> None:
    rules = rules_for_period(timedelta(days=30))
    table = [
        (r.severity, r.long_window, r.short_window, r.budget_consumed, round(r.factor, 6)) for r in rules
    ]
    assert table == [
        (Severity.PAGE, HOUR, timedelta(minutes=5), 0.02, 14.4),
        (Severity.PAGE, 6 * HOUR, timedelta(minutes=30), 0.05, 6.0),
        (Severity.TICKET, 24 * HOUR, 2 * HOUR, 0.10, 3.0),
        (Severity.TICKET, 72 * HOUR, 6 * HOUR, 0.10, 1.0),
    ]


def test_twenty_eight_day_factors_scale_like_sloth() -> None:
    factors = [round(r.factor, 3) for r in rules_for_period(timedelta(days=28))]
    assert factors == [13.44, 5.6, 2.8, 0.933]


def test_short_window_is_a_twelfth_of_the_long_one() -> None:
    for rule in rules_for_period(timedelta(days=30)):
        assert rule.short_window * 12 == rule.long_window


def _uniform_counts(
    period: timedelta, error_ratio_by_window: dict[timedelta, float], per_window: int = 100_000
) -> dict[timedelta, WindowCounts]:
    counts = {}
    for window in windows_needed(period):
        ratio = error_ratio_by_window.get(window, 0.0)
        bad = round(per_window * ratio)
        counts[window] = WindowCounts(good=per_window - bad, total=per_window)
    return counts


def test_page_fires_when_both_windows_exceed_the_factor() -> None:
    period = timedelta(days=30)
    # 2% errors at 99.9% is a 20x burn on 1h and 5m: above 14.4.
    counts = _uniform_counts(period, {HOUR: 0.02, timedelta(minutes=5): 0.02})
    decision = decide_alert(counts, 0.999, period)
    assert decision.severity is Severity.PAGE
    outcome = decision.firing_outcome
    assert outcome is not None
    assert outcome.rule.long_window == HOUR
    assert outcome.long_burn_rate == pytest.approx(20.0)


def test_page_needs_the_short_window_too() -> None:
    period = timedelta(days=30)
    # The hour burned hard but the last 5 minutes are clean: the incident is over, no page.
    counts = _uniform_counts(period, {HOUR: 0.02, timedelta(minutes=5): 0.0})
    assert decide_alert(counts, 0.999, period).severity is None


def test_burn_exactly_at_the_factor_does_not_fire() -> None:
    period = timedelta(days=30)
    counts = _uniform_counts(period, {HOUR: 0.0144, timedelta(minutes=5): 0.0144}, per_window=10_000)
    assert decide_alert(counts, 0.999, period).severity is None


def test_ticket_fires_on_slow_burn() -> None:
    period = timedelta(days=30)
    # 0.4% errors everywhere: 4x burn, under the page factors, above 3x and 1x.
    ratios = dict.fromkeys(windows_needed(period), 0.004)
    decision = decide_alert(_uniform_counts(period, ratios), 0.999, period)
    assert decision.severity is Severity.TICKET


def test_page_inhibits_ticket() -> None:
    period = timedelta(days=30)
    ratios = dict.fromkeys(windows_needed(period), 0.05)
    decision = decide_alert(_uniform_counts(period, ratios), 0.999, period)
    assert decision.severity is Severity.PAGE
    assert {o.rule.severity for o in decision.outcomes if o.firing} == {Severity.PAGE, Severity.TICKET}


def test_minimum_events_guard_keeps_a_quiet_hour_from_paging() -> None:
    period = timedelta(days=30)
    counts = dict.fromkeys(windows_needed(period), WindowCounts(good=9, total=10))
    assert decide_alert(counts, 0.999, period, min_events=1).severity is Severity.PAGE
    assert decide_alert(counts, 0.999, period, min_events=50).severity is None


def test_evaluate_slo_reports_sli_budget_and_exhaustion() -> None:
    period = timedelta(days=30)
    counts = _uniform_counts(period, {period: 0.0005, HOUR: 0.002})
    evaluation = evaluate_slo(counts_by_window=counts, objective=0.999, period=period, now=NOW)
    assert evaluation.sli == pytest.approx(0.9995)
    assert evaluation.error_budget_remaining == pytest.approx(0.5)
    assert evaluation.burn_rates[HOUR] == pytest.approx(2.0)
    # Half the budget at 2x lasts a quarter of 30 days.
    assert evaluation.time_to_exhaustion == timedelta(days=7.5)
    assert evaluation.alert.severity is None


@pytest.mark.parametrize(
    ("open_severity", "decided", "expected"),
    [
        (None, None, BreachTransition.NONE),
        (None, Severity.TICKET, BreachTransition.OPEN),
        (None, Severity.PAGE, BreachTransition.OPEN),
        (Severity.TICKET, Severity.PAGE, BreachTransition.ESCALATE),
        (Severity.PAGE, Severity.TICKET, BreachTransition.NONE),
        (Severity.PAGE, Severity.PAGE, BreachTransition.NONE),
        (Severity.PAGE, None, BreachTransition.RESOLVE),
        (Severity.TICKET, None, BreachTransition.RESOLVE),
    ],
)
def test_breach_transitions(
    open_severity: Severity | None, decided: Severity | None, expected: BreachTransition
) -> None:
    assert breach_transition(open_severity, decided) is expected


def test_hysteresis_keeps_an_alert_hovering_at_the_threshold_from_flapping() -> None:
    period = timedelta(days=30)
    # 1.5% errors: a 15x burn, just above the 14.4 page factor.
    above = _uniform_counts(period, {HOUR: 0.015, timedelta(minutes=5): 0.015})
    # 1.4%: 14x, just below the factor but above 90% of it (12.96).
    just_below = _uniform_counts(period, {HOUR: 0.014, timedelta(minutes=5): 0.014})
    # 1.2%: 12x, below 90% of the factor.
    well_below = _uniform_counts(period, {HOUR: 0.012, timedelta(minutes=5): 0.012})

    assert decide_alert(above, 0.999, period).severity is Severity.PAGE
    # Not firing yet: dipping under the factor does not open a page...
    assert decide_alert(just_below, 0.999, period).severity is None
    # ...but once paging, it keeps paging there, and stops only well below.
    assert decide_alert(just_below, 0.999, period, holding=Severity.PAGE).severity is Severity.PAGE
    assert decide_alert(well_below, 0.999, period, holding=Severity.PAGE).severity is None


def test_holding_a_ticket_does_not_lower_the_bar_for_a_page() -> None:
    period = timedelta(days=30)
    just_below_page = _uniform_counts(period, {HOUR: 0.014, timedelta(minutes=5): 0.014})
    decision = decide_alert(just_below_page, 0.999, period, holding=Severity.TICKET)
    assert decision.severity is not Severity.PAGE
