"""The error-budget freeze decision: exhaustion over each SLO's own window, exceptions, phases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.budget_policy import (
    ExceptionPeriod,
    SloBudget,
    decide_freeze,
    exhausted_slos,
    is_exception_active,
    policy_applies,
)

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=28)


def budget(slo: str, remaining: float | None) -> SloBudget:
    return SloBudget(slo=slo, error_budget_remaining=remaining, window=WINDOW)


@pytest.mark.parametrize(
    ("remaining", "exhausted"),
    [(1.0, False), (0.0001, False), (0.0, True), (-0.5, True), (None, False)],
)
def test_an_slo_is_exhausted_at_zero_budget_or_below(remaining: float | None, exhausted: bool) -> None:
    assert bool(exhausted_slos([budget("availability", remaining)])) is exhausted


def test_exhausted_slos_keeps_the_given_order() -> None:
    budgets = [budget("a", -0.1), budget("b", 0.5), budget("c", 0.0)]
    assert [b.slo for b in exhausted_slos(budgets)] == ["a", "c"]


@pytest.mark.parametrize(
    ("phase", "applies"),
    [("production", True), ("technical_validation", False), ("concept", False), ("unknown", False)],
)
def test_the_policy_applies_only_in_production(phase: str, applies: bool) -> None:
    assert policy_applies(phase) is applies


def test_an_exception_is_active_from_its_grant_until_it_expires() -> None:
    period = ExceptionPeriod(granted_at=NOW, expires_at=NOW + timedelta(hours=2))
    assert not is_exception_active(period, NOW - timedelta(seconds=1))
    assert is_exception_active(period, NOW)
    assert is_exception_active(period, NOW + timedelta(hours=2) - timedelta(microseconds=1))
    assert not is_exception_active(period, NOW + timedelta(hours=2))


def test_a_revoked_exception_ends_at_its_revocation() -> None:
    period = ExceptionPeriod(
        granted_at=NOW, expires_at=NOW + timedelta(days=1), revoked_at=NOW + timedelta(hours=1)
    )
    assert is_exception_active(period, NOW + timedelta(minutes=59))
    assert not is_exception_active(period, NOW + timedelta(hours=1))


def test_production_with_budget_left_is_not_frozen() -> None:
    decision = decide_freeze(
        phase="production", budgets=[budget("a", 0.2), budget("b", None)], exceptions=[], now=NOW
    )
    assert decision.policy_applies
    assert not decision.budget_exhausted
    assert not decision.frozen
    assert decision.exhausted == ()


def test_an_exhausted_production_budget_freezes_releases() -> None:
    decision = decide_freeze(
        phase="production", budgets=[budget("a", 0.2), budget("b", -0.3)], exceptions=[], now=NOW
    )
    assert decision.budget_exhausted
    assert decision.frozen
    assert decision.exhausted == (budget("b", -0.3),)


def test_an_active_exception_lifts_the_freeze_but_not_the_exhaustion() -> None:
    active = ExceptionPeriod(granted_at=NOW - timedelta(hours=1), expires_at=NOW + timedelta(hours=1))
    expired = ExceptionPeriod(granted_at=NOW - timedelta(days=2), expires_at=NOW - timedelta(days=1))

    lifted = decide_freeze(phase="production", budgets=[budget("a", -0.1)], exceptions=[active], now=NOW)
    still = decide_freeze(phase="production", budgets=[budget("a", -0.1)], exceptions=[expired], now=NOW)

    assert (lifted.budget_exhausted, lifted.frozen, lifted.exception_active) == (True, False, True)
    assert (still.budget_exhausted, still.frozen, still.exception_active) == (True, True, False)


@pytest.mark.parametrize("phase", ["concept", "technical_validation"])
def test_systems_outside_production_are_never_frozen(phase: str) -> None:
    decision = decide_freeze(phase=phase, budgets=[budget("a", -5.0)], exceptions=[], now=NOW)
    assert not decision.policy_applies
    assert not decision.budget_exhausted
    assert not decision.frozen
    assert decision.exhausted == ()
