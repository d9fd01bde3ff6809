"""API schemas of collector runs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class CollectorRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slot_start: datetime
    claimed_by: str
    claimed_at: datetime
    finished_at: datetime | None
    outcome: str
    good: int | None
    total: int | None
    value: float | None
    duration_seconds: float | None
    error: str | None


class SampleRead(BaseModel):
    """One reading of a value or ratio SLI; `value` is null for a failed collection counted as bad."""

    measured_at: datetime
    value: float | None
    model_version: str | None = None
    data_version: str | None = None
    sample_size: int | None = None
