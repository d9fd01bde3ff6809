"""API schemas of silences, freeze exceptions and the freeze answer."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from app.core.budget_policy import FreezeExceptionKind
from app.core.burn_rate_policy import Severity
from app.core.windows import parse_window
from app.timestamps import supported_utc

DURATION_DESCRIPTION = "A whole number and a unit (s, m, h, d or w), e.g. 2h; give this or `{other}`."


def _in_utc(value: datetime) -> datetime:
    return supported_utc(value)


def _valid_duration(value: str) -> str:
    parse_window(value)  # its ValueError names the accepted form
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
Duration = Annotated[str, Field(max_length=20), AfterValidator(_valid_duration)]
Comment = Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(_not_blank)]


class SilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str = Field(min_length=1, max_length=200)
    slo: str | None = Field(
        default=None, min_length=1, max_length=500, description="Omit to silence every SLO of the system."
    )
    severity: Severity | None = Field(default=None, description="Omit to silence both pages and tickets.")
    starts_at: UtcDatetime | None = Field(default=None, description="Defaults to now.")
    ends_at: UtcDatetime | None = Field(default=None, description="Give this or `duration`.")
    duration: Duration | None = Field(default=None, description=DURATION_DESCRIPTION.format(other="ends_at"))
    comment: Comment = Field(description="Why; shown with every muted alert.")


class SilenceState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class SilenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    system: str
    slo: str | None
    severity: Severity | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    expired_at: datetime | None = Field(description="Set when the silence was expired before its end.")
    state: SilenceState = Field(description="pending before starts_at, active until ends_at, then expired.")


class FreezeExceptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FreezeExceptionKind
    reason: Comment
    expires_at: UtcDatetime | None = Field(default=None, description="At most 7 days ahead.")
    duration: Duration | None = Field(
        default=None, description=DURATION_DESCRIPTION.format(other="expires_at")
    )


class FreezeExceptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: FreezeExceptionKind
    reason: str
    granted_by: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class FreezeReason(BaseModel):
    slo: str
    error_budget_remaining: float
    window: str = Field(description="The SLO's own window, which is the policy window.")


class FreezeRead(BaseModel):
    system: str
    phase: str
    policy_applies: bool = Field(description="Whether the error-budget policy applies (production only).")
    frozen: bool = Field(description="budget_exhausted and no active exception: hold all other releases.")
    budget_exhausted: bool
    reasons: list[FreezeReason] = Field(description="The production SLOs with no error budget left.")
    exceptions: list[FreezeExceptionRead] = Field(description="Exceptions in force now.")
    summary: str
