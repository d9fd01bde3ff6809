"""HTTP endpoints for systems to push their events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.deps import AppClock, DbSession, Ingester
from app.measurements import job_runs, service
from app.measurements.schemas import (
    REQUEST_EVENTS_BODY_SCHEMA,
    IngestResult,
    RequestEventColumns,
    parse_request_events,
)
from app.systems import service as systems_service

router = APIRouter(tags=["ingestion"])


async def _request_body(request: Request) -> bytes:
    return await request.body()


def _events(body: Annotated[bytes, Depends(_request_body)]) -> RequestEventColumns:
    """The body parsed from raw JSON in one pass (FastAPI's own body parsing built an object per
    event); errors keep FastAPI's 422 shape."""
    try:
        return parse_request_events(body)
    except ValidationError as error:
        # The first location element names the body shape (rows or columns); FastAPI says "body".
        raise RequestValidationError(
            [{**detail, "loc": ("body", *detail["loc"][1:])} for detail in error.errors(include_url=False)]
        ) from None


@router.post(
    "/systems/{name}/request-events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": REQUEST_EVENTS_BODY_SCHEMA}},
            "description": "Either {events: [{time, latency_ms, outcome}, ...]} or the same events as "
            "columns: {time: [...], latency_ms: [...], outcome: [...]}; at most 10,000 events.",
        }
    },
)
def push_request_events(
    name: str,
    # The key is checked before the body is parsed: an unauthenticated caller gets 401, whatever it sent.
    principal: Ingester,
    events: Annotated[RequestEventColumns, Depends(_events)],
    db_session: DbSession,
    clock: AppClock,
) -> IngestResult:
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    return service.ingest_request_events(db_session=db_session, clock=clock, system=system, batch=events)


@router.post(
    "/systems/{name}/job-runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=job_runs.JobRunIngestResult,
)
def push_job_runs(
    name: str,
    batch: job_runs.JobRunBatch,
    db_session: DbSession,
    clock: AppClock,
    principal: Ingester,
) -> job_runs.JobRunIngestResult:
    """Batch job runs ({runs: [{job, started_at, finished_at, outcome, rows_processed}, ...]}, at most
    10,000): each counts, at the minute it finished, for the job SLOs that follow its job."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    return job_runs.ingest_job_runs(db_session=db_session, clock=clock, system=system, batch=batch)
