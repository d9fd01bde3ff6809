"""API schemas of SLO status, breaches and evaluation runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field


class SloStatusRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    evaluated_at: datetime
    sli: float | None
    good_events: int
    total_events: int
    error_budget_remaining: float | None
    burn_rates: dict[str, float | None]
    time_to_exhaustion_seconds: float | None
    alert_severity: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def bad_events(self) -> int:
        """The budget spent in the window, in bad events (bad slices for time-slice budgeting)."""
        return self.total_events - self.good_events


class SloRead(BaseModel):
    id: int
    system: str
    phase: str
    name: str
    objective_name: str | None
    description: str
    sli_kind: str
    metric: str
    source: str
    threshold_ms: float | None
    objective: float
    objective_op: str | None
    objective_value: float | None
    budgeting_method: str
    window: str
    calendar_unit: str | None
    time_zone: str | None
    owner_side: str
    version: int
    in_force: bool
    source_path: str
    status: SloStatusRead | None


class SloVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    objective: float
    window: str
    effective_from: datetime
    applied_by: str
    source_path: str
    definition: dict[str, Any]


class BreachRead(BaseModel):
    id: int
    system: str
    phase: str
    slo: str
    slo_id: int
    severity: str
    opened_at: datetime
    window_start: datetime
    resolved_at: datetime | None
    peak_burn_rate: float
    error_budget_remaining_at_open: float
    opening_details: dict[str, Any]
    bad_events: int
    budget_consumed_share: float
    postmortem_required: bool
    dedup_key: str
    start_details: dict[str, Any] | None
    peak_details: dict[str, Any] | None
    closing_details: dict[str, Any] | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledgement_comment: str | None
    last_notified_at: datetime | None


class AcknowledgementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000)


class RoutingRead(BaseModel):
    """Why an SLO's alert of one severity goes where it goes."""

    system: str
    slo: str
    severity: str
    phase: str
    allowed: bool
    owner_side: str
    owner: str | None
    channel: str | None
    targets: list[str]
    silenced_by: int | None
    reasons: list[str]


class EvaluationRunRead(BaseModel):
    evaluated_at: datetime
    slos_evaluated: int
    breaches_opened: list[int]
    breaches_escalated: list[int]
    breaches_resolved: list[int]
    notifications_queued: int
