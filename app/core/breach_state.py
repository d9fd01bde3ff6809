"""What happens to an SLO's breach when a new alert decision arrives."""

from __future__ import annotations

import enum

from app.core.burn_rate_policy import Severity


class BreachTransition(enum.StrEnum):
    OPEN = "open"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    NONE = "none"


def breach_transition(open_severity: Severity | None, decided: Severity | None) -> BreachTransition:
    """One open breach per SLO. It opens on the first firing decision, escalates from ticket to
    page, and resolves when nothing fires. A page that calms to ticket level stays a page breach
    until it clears, so the same incident does not notify twice."""
    if open_severity is None:
        return BreachTransition.NONE if decided is None else BreachTransition.OPEN
    if decided is None:
        return BreachTransition.RESOLVE
    if decided.rank > open_severity.rank:
        return BreachTransition.ESCALATE
    return BreachTransition.NONE
