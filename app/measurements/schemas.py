"""API schemas of pushed request events."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_EVENTS_PER_BATCH = 10_000


class RequestEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: AwareDatetime = Field(description="When the request was served; timezone required.")
    latency_ms: float = Field(ge=0, allow_inf_nan=False)
    outcome: Literal["success", "error"]


class RequestEventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[RequestEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class IngestResult(BaseModel):
    accepted_events: int
    slos_updated: list[str]
    minutes_updated: int
    earliest: datetime
    latest: datetime
