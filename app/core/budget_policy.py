"""The Workbook error-budget policy's release freeze: is a system's budget exhausted, and is it frozen
once the exceptions granted for P0 and security fixes are taken into account. Pure: plain values in."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core import phase_policy

# An exception lets one fix through; a week is long enough to ship it and short enough that a
# forgotten exception does not quietly end the freeze.
MAX_FREEZE_EXCEPTION = timedelta(days=7)


class FreezeExceptionKind(enum.StrEnum):
    """The releases the Workbook policy lets through a freeze."""

    P0 = "p0"
    SECURITY = "security"


@dataclass(frozen=True, slots=True)
class SloBudget:
    """One SLO in force and its latest evaluated budget (None when it was never evaluated, or its
    phase does not evaluate budgets). The policy window is the SLO's own window."""

    slo: str
    error_budget_remaining: float | None
    window: timedelta


@dataclass(frozen=True, slots=True)
class ExceptionPeriod:
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FreezeDecision:
    policy_applies: bool
    budget_exhausted: bool
    frozen: bool
    # The SLOs whose budget is spent, in the order given.
    exhausted: tuple[SloBudget, ...]
    exception_active: bool


def policy_applies(phase: str) -> bool:
    """Only production systems are held to the error-budget policy (see phase_policy)."""
    return phase in phase_policy.PHASE_ORDER and phase_policy.policy_for(phase).error_budget_policy_applies


def exhausted_slos(budgets: Sequence[SloBudget]) -> tuple[SloBudget, ...]:
    """SLOs with no budget left. An SLO never evaluated has spent nothing we know of."""
    return tuple(
        budget
        for budget in budgets
        if budget.error_budget_remaining is not None and budget.error_budget_remaining <= 0
    )


def is_exception_active(period: ExceptionPeriod, now: datetime) -> bool:
    """In force from its grant until it expires or is revoked, whichever comes first."""
    ends_at = period.expires_at if period.revoked_at is None else min(period.expires_at, period.revoked_at)
    return period.granted_at <= now < ends_at


def decide_freeze(
    *, phase: str, budgets: Sequence[SloBudget], exceptions: Sequence[ExceptionPeriod], now: datetime
) -> FreezeDecision:
    """Frozen = the policy applies, some SLO's budget is exhausted, and no exception is active."""
    if not policy_applies(phase):
        return FreezeDecision(
            policy_applies=False, budget_exhausted=False, frozen=False, exhausted=(), exception_active=False
        )
    exhausted = exhausted_slos(budgets)
    exception_active = any(is_exception_active(period, now) for period in exceptions)
    return FreezeDecision(
        policy_applies=True,
        budget_exhausted=bool(exhausted),
        frozen=bool(exhausted) and not exception_active,
        exhausted=exhausted,
        exception_active=exception_active,
    )
