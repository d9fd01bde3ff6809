"""HTTP endpoints of collector runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.collectors import repository
from app.collectors.schemas import CollectorRunRead
from app.deps import DbSession, Reader
from app.slos import service as slos_service
from app.systems import service as systems_service

router = APIRouter(tags=["collectors"])


@router.get("/systems/{name}/slos/{slo_name}/collector-runs", response_model=list[CollectorRunRead])
def list_collector_runs(
    name: str,
    slo_name: str,
    db_session: DbSession,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[CollectorRunRead]:
    """The latest collection slots of an SLO collected from an HTTP probe or SQL, newest first."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    # Runs stay readable after the SLO is archived.
    slo = slos_service.get_in_current_phase(
        db_session=db_session, system=system, name=slo_name, include_archived=True
    )
    return [
        CollectorRunRead.model_validate(run)
        for run in repository.recent(db_session=db_session, slo_id=slo.id, limit=limit)
    ]
