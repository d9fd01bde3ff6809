"""HTTP endpoints for systems to push their events."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.deps import AppClock, DbSession, Ingester
from app.measurements import service
from app.measurements.schemas import IngestResult, RequestEventBatch
from app.systems import service as systems_service

router = APIRouter(tags=["ingestion"])


@router.post(
    "/systems/{name}/request-events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResult,
)
def push_request_events(
    name: str, batch: RequestEventBatch, db_session: DbSession, clock: AppClock, principal: Ingester
) -> IngestResult:
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    return service.ingest_request_events(db_session=db_session, clock=clock, system=system, batch=batch)
