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
    duration_seconds: float | None
    error: str | None
