"""API schemas of pushed request events: a list of event objects, or the same events as columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import TypedDict

from app.timestamps import Timestamp

MAX_EVENTS_PER_BATCH = 10_000

Latency = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Outcome = Literal["success", "error"]


class RequestEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: Timestamp = Field(description="When the request was served; timezone required.")
    latency_ms: Latency
    outcome: Outcome


class RequestEventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[RequestEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class RequestEventColumnBatch(BaseModel):
    """The columnar body: the i-th event is (time[i], latency_ms[i], outcome[i])."""

    model_config = ConfigDict(extra="forbid")

    time: list[Timestamp] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)
    latency_ms: list[Latency] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)
    outcome: list[Outcome] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


@dataclass(frozen=True, slots=True)
class RequestEventColumns:
    """Events as parallel lists, the shape ingestion works on."""

    time: Sequence[datetime]
    latency_ms: Sequence[float]
    outcome: Sequence[str]

    @classmethod
    def from_batch(cls, batch: RequestEventBatch) -> RequestEventColumns:
        events = batch.events
        return cls(
            time=[event.time for event in events],
            latency_ms=[event.latency_ms for event in events],
            outcome=[event.outcome for event in events],
        )


# The request body is parsed straight from JSON into plain dicts and lists, not model instances:
# building a model object per event was most of the cost of a large batch.
class _EventRow(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    time: Timestamp
    latency_ms: Latency
    outcome: Outcome


class _RowBody(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    events: Annotated[list[_EventRow], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


class _ColumnBody(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    time: Annotated[list[Timestamp], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]
    latency_ms: Annotated[list[Latency], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]
    outcome: Annotated[list[Outcome], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


def _body_shape(value: Any) -> str:
    return "rows" if isinstance(value, dict) and "events" in value else "columns"


_REQUEST_EVENTS_BODY: TypeAdapter[_RowBody | _ColumnBody] = TypeAdapter(
    Annotated[
        Annotated[_RowBody, Tag("rows")] | Annotated[_ColumnBody, Tag("columns")],
        Discriminator(_body_shape),
    ]
)

# The OpenAPI description of the body: either shape.
REQUEST_EVENTS_BODY_SCHEMA: dict[str, Any] = {
    "oneOf": [RequestEventBatch.model_json_schema(), RequestEventColumnBatch.model_json_schema()]
}


def parse_request_events(body: bytes) -> RequestEventColumns:
    """The events of a JSON body in either shape; ValidationError locations start after the shape."""
    parsed = _REQUEST_EVENTS_BODY.validate_json(body)
    if "events" in parsed:
        rows = cast(_RowBody, parsed)["events"]
        return RequestEventColumns(
            time=[row["time"] for row in rows],
            latency_ms=[row["latency_ms"] for row in rows],
            outcome=[row["outcome"] for row in rows],
        )
    lengths = {len(parsed["time"]), len(parsed["latency_ms"]), len(parsed["outcome"])}
    if len(lengths) > 1:
        error = PydanticCustomError(
            "column_lengths", "time, latency_ms and outcome must have the same length"
        )
        raise ValidationError.from_exception_data(
            "RequestEventColumnBatch", [InitErrorDetails(type=error, loc=("columns",), input=None)]
        )
    return RequestEventColumns(
        time=parsed["time"], latency_ms=parsed["latency_ms"], outcome=parsed["outcome"]
    )


class IngestResult(BaseModel):
    accepted_events: int
    slos_updated: list[str]
    minutes_updated: int
    earliest: datetime
    latest: datetime
