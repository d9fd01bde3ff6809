"""What a breach notification says, independent of where it is sent."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class NotificationEvent(enum.StrEnum):
    FIRED = "fired"
    ESCALATED = "escalated"
    # Sent again while the episode is open and not acknowledged, every repeat interval.
    REPEATED = "repeated"
    # Someone took the episode: PagerDuty acknowledges its incident, Slack says who.
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class BreachAlert:
    event: NotificationEvent
    breach_id: int
    severity: str
    system: str
    phase: str
    slo: str
    objective: float
    period: timedelta
    sli: float | None
    long_window: timedelta | None
    short_window: timedelta | None
    long_burn_rate: float | None
    short_burn_rate: float | None
    burn_rate_threshold: float | None
    error_budget_remaining: float
    time_to_exhaustion: timedelta | None
    owner: str | None
    owner_channel: str | None
    opened_at: datetime
    resolved_at: datetime | None
    peak_burn_rate: float
    budget_consumed_share: float | None
    dashboard_url: str
    breach_url: str
    postmortem_url: str
    # Set for "SLI data missing" alerts: when the last data arrived (or collection was to begin).
    data_missing_since: datetime | None = None
    # Stable per SLO and severity (never the window): the same alert in every target.
    dedup_key: str = ""
    model_version: str | None = None
    runbook_url: str | None = None
    # "conventional" or "ml"; which owner side the SLO routes to.
    sli_family: str = "conventional"
    owner_side: str = "service"
    acknowledged_by: str | None = None
