"""API schemas of systems and phase changes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.systems.models import Phase

SYSTEM_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
SLACK_CHANNEL_PATTERN = r"^#[a-z0-9][a-z0-9._-]{0,79}$"


class Owner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    slack_channel: str | None = Field(default=None, pattern=SLACK_CHANNEL_PATTERN)


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


class SystemRead(BaseModel):
    name: str
    description: str
    phase: Phase
    service_owner: Owner | None
    model_owner: Owner | None
    created_at: datetime
    updated_at: datetime


class PhaseChangeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phase: Phase
    reason: str = Field(min_length=1, max_length=5000)


class PhaseChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_phase: Phase | None
    to_phase: Phase
    changed_by: str
    reason: str
    changed_at: datetime
