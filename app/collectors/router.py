"""HTTP endpoints of collector runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.collectors import repository
from app.collectors.schemas import CollectorRunRead, SampleRead
from app.deps import AppClock, DbSession, Reader, time_range
from app.measurements import repository as measurements_repository
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
    """The latest collection slots of a collected SLO (Prometheus, SQL, HTTP probe), newest first."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    # Runs stay readable after the SLO is archived.
    slo = slos_service.get_in_current_phase(
        db_session=db_session, system=system, name=slo_name, include_archived=True
    )
    return [
        CollectorRunRead.model_validate(run)
        for run in repository.recent(db_session=db_session, slo_id=slo.id, limit=limit)
    ]


@router.get("/systems/{name}/slos/{slo_name}/samples", response_model=list[SampleRead])
def list_samples(
    name: str,
    slo_name: str,
    db_session: DbSession,
    principal: Reader,
    clock: AppClock,
    start: Annotated[datetime | None, Query(alias="from", description="Default: 24 hours ago.")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Default: now.")] = None,
) -> list[SampleRead]:
    """The readings of a value or ratio SLI taken in [from, to), oldest first (at most 31 days): the
    SLI as a whole (`model_version` null) and per model version."""
    start, end = time_range(start, end, clock.now())
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    slo = slos_service.get_in_current_phase(
        db_session=db_session, system=system, name=slo_name, include_archived=True
    )
    return [
        SampleRead(
            measured_at=row.measured_at,
            value=row.value,
            model_version=row.model_version or None,
            data_version=row.data_version,
            sample_size=row.sample_size,
        )
        for row in measurements_repository.sample_rows_between(
            db_session=db_session, slo_id=slo.id, start=start, end=end
        )
    ]
