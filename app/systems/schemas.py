"""API schemas of systems and phase changes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.systems.models import Phase

SYSTEM_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
SLACK_CHANNEL_PATTERN = r"^#[a-z0-9][a-z0-9._-]{0,79}$"


class Owner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    slack_channel: str | None = Field(default=None, pattern=SLACK_CHANNEL_PATTERN)
    page_slack_channel: str | None = Field(
        default=None,
        pattern=SLACK_CHANNEL_PATTERN,
        description="Where this owner's pages go, if not to slack_channel (tickets stay there).",
    )


class SystemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SYSTEM_NAME_PATTERN, description="Lowercase slug; names the SLO folder.")
    description: str = Field(default="", max_length=5000)
    phase: Phase = Phase.CONCEPT
    service_owner: Owner | None = None
    model_owner: Owner | None = None


class SystemUpdate(BaseModel):
    """Fields to change; the phase changes only through the phase endpoint, which records why."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=5000)
    service_owner: Owner | None = None
    model_owner: Owner | None = None


class PhasePolicyRead(BaseModel):
    """What a phase asks of a system: which parts of the loop run, and which alerts may go out."""

    model_config = ConfigDict(from_attributes=True)

    phase: Phase
    collects_slis: bool
    evaluates_budgets: bool
    notifies: bool
    allows_page: bool
    allows_ticket: bool
    slos_required: bool
    requires_conventional_and_ml: bool
    error_budget_policy_applies: bool
    summary: str


class SystemRead(BaseModel):
    name: str
    description: str
    phase: Phase
    policy: PhasePolicyRead = Field(description="The policy of the system's current phase.")
    service_owner: Owner | None
    model_owner: Owner | None
    created_at: datetime
    updated_at: datetime


class PhaseChangeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phase: Phase
    reason: str = Field(min_length=1, max_length=5000)
    override: bool = Field(
        default=False,
        description="Promote although the production gate lists unmet requirements (admins only; "
        "needs override_reason).",
    )
    override_reason: str | None = Field(
        default=None,
        max_length=5000,
        validate_default=True,
        description="Why the gate is overridden; recorded in the phase change with the unmet requirements.",
    )

    @field_validator("override_reason")
    @classmethod
    def _override_reason_goes_with_override(cls, value: str | None, info: ValidationInfo) -> str | None:
        override = info.data.get("override", False)
        text = (value or "").strip()
        if override and not text:
            raise ValueError("an override needs a non-empty override_reason, which is recorded")
        if not override and value is not None:
            raise ValueError("override_reason is accepted only with override: true")
        return text or None


class PhaseChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_phase: Phase | None
    to_phase: Phase
    changed_by: str
    reason: str = Field(description="Why; an override appends its reason and the unmet requirements.")
    changed_at: datetime


class PromotionCheckRead(BaseModel):
    target: Phase
    ready: bool
    reasons: list[str] = Field(description="Every unmet requirement; empty when ready.")
    ml_test_score: float = Field(
        description="The ML Test Score of the target phase's SLOs (monitoring tests)."
    )
    ml_test_score_max: float
    ml_test_score_minimum: float | None = Field(description="The minimum the target phase's file requires.")
