"""Multiwindow, multi-burn-rate alert rules and the decision they make.

The windows and budget shares are the Workbook's for a 30-day period. For other periods the
windows and shares stay the same and the factor is recomputed as share * period / long window
(Sloth's method), so a 28-day SLO pages at 13.44x rather than 14.4x.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from app.core.budget import burn_rate
from app.core.windows import WindowMeasure


class Severity(enum.StrEnum):
    PAGE = "page"
    TICKET = "ticket"

    @property
    def rank(self) -> int:
        return {Severity.TICKET: 1, Severity.PAGE: 2}[self]


@dataclass(frozen=True, slots=True)
class BurnRateRule:
    severity: Severity
    long_window: timedelta
    short_window: timedelta
    budget_consumed: float
    factor: float


_WORKBOOK_RULES: tuple[tuple[Severity, timedelta, timedelta, float], ...] = (
    (Severity.PAGE, timedelta(hours=1), timedelta(minutes=5), 0.02),
    (Severity.PAGE, timedelta(hours=6), timedelta(minutes=30), 0.05),
    (Severity.TICKET, timedelta(days=1), timedelta(hours=2), 0.10),
    (Severity.TICKET, timedelta(days=3), timedelta(hours=6), 0.10),
)


def rules_for_period(period: timedelta) -> tuple[BurnRateRule, ...]:
    """The four Workbook rules with factors scaled to `period`."""
    if period <= timedelta(0):
        raise ValueError("the SLO period must be positive")
    return tuple(
        BurnRateRule(
            severity=severity,
            long_window=long_window,
            short_window=short_window,
            budget_consumed=share,
            factor=share * (period / long_window),
        )
        for severity, long_window, short_window, share in _WORKBOOK_RULES
    )


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    rule: BurnRateRule
    long_burn_rate: float | None
    short_burn_rate: float | None
    long_window_events: int
    firing: bool


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """Which severity fires now (page inhibits ticket), with every rule's outcome for the message."""

    severity: Severity | None
    outcomes: tuple[RuleOutcome, ...]

    @property
    def firing_outcome(self) -> RuleOutcome | None:
        """The firing rule of the decided severity with the highest long-window burn."""
        candidates = [o for o in self.outcomes if o.firing and o.rule.severity == self.severity]
        return max(candidates, key=lambda o: o.long_burn_rate or 0.0, default=None)


# Hysteresis: an alert that fires keeps firing until its burn falls below 90% of the threshold, so
# an SLO hovering at the threshold does not open and resolve a breach at every evaluation.
HYSTERESIS = 0.9


def decide_alert(
    counts_by_window: Mapping[timedelta, WindowMeasure],
    objective: float,
    period: timedelta,
    min_events: int = 1,
    holding: Severity | None = None,
) -> AlertDecision:
    """A rule fires when both of its windows burn above its factor and the long window has
    at least `min_events` events (so one failure in a quiet hour does not page). While an alert of
    severity `holding` is open, rules up to that severity keep firing down to HYSTERESIS * factor."""
    outcomes: list[RuleOutcome] = []
    for rule in rules_for_period(period):
        held = holding is not None and rule.severity.rank <= holding.rank
        threshold = rule.factor * HYSTERESIS if held else rule.factor
        long_counts = counts_by_window[rule.long_window]
        short_counts = counts_by_window[rule.short_window]
        long_burn = burn_rate(long_counts, objective)
        short_burn = burn_rate(short_counts, objective)
        firing = (
            long_counts.total >= max(min_events, 1)
            and long_burn is not None
            and short_burn is not None
            and long_burn > threshold
            and short_burn > threshold
        )
        outcomes.append(RuleOutcome(rule, long_burn, short_burn, long_counts.total, firing))
    firing_severities = {o.rule.severity for o in outcomes if o.firing}
    severity = max(firing_severities, key=lambda s: s.rank, default=None)
    return AlertDecision(severity=severity, outcomes=tuple(outcomes))


def permitted_severity(decided: Severity | None, *, allow_page: bool, allow_ticket: bool) -> Severity | None:
    """The severity an alert may take where paging or ticketing is switched off (by the phase or the
    SLO): a page-level burn still opens a ticket where only tickets are allowed."""
    if decided is Severity.PAGE and not allow_page:
        decided = Severity.TICKET
    if decided is Severity.TICKET and not allow_ticket:
        return None
    return decided


def decide_count_based(bad_events: int, max_bad_events: int) -> Severity | None:
    """For rare events (a few retrains a month) burn rates swing wildly; the rule is a count:
    more than `max_bad_events` bad events in the SLO window opens a ticket."""
    return Severity.TICKET if bad_events > max_bad_events else None
