"""HTTP endpoints of the ML SLIs: predictions, labels, model versions, pushed readings, and the
quality, drift and readiness reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from app.core.readiness import ml_test_score
from app.core.sli_catalog import SliKind
from app.deps import AppClock, DbSession, Ingester, Reader, time_range
from app.ml import model_versions, repository, service
from app.ml.schemas import (
    LabelBatch,
    LabelIngestResult,
    LabelProblemRead,
    ModelVersionIn,
    ModelVersionRead,
    PredictionBatch,
    PredictionIngestResult,
    QualityReport,
    ReadinessReport,
    ReadinessTest,
    ReadingBatch,
    ReadingIngestResult,
)
from app.slos import repository as slos_repository
from app.slos import service as slos_service
from app.systems import service as systems_service

router = APIRouter(tags=["ml"])


From = Annotated[datetime | None, Query(alias="from", description="Default: 24 hours before `to`.")]
To = Annotated[datetime | None, Query(alias="to", description="Default: now.")]


@router.post(
    "/systems/{name}/predictions", status_code=status.HTTP_202_ACCEPTED, response_model=PredictionIngestResult
)
def push_predictions(
    name: str, batch: PredictionBatch, db_session: DbSession, clock: AppClock, principal: Ingester
) -> PredictionIngestResult:
    """Served predictions (at most 10,000): id, time, model and data version, the predicted label or
    value, optionally scores and features. Ids already stored are reported, not replaced."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    return service.ingest_predictions(db_session=db_session, clock=clock, system=system, batch=batch)


@router.post("/systems/{name}/labels", status_code=status.HTTP_202_ACCEPTED, response_model=LabelIngestResult)
def push_labels(
    name: str, batch: LabelBatch, db_session: DbSession, clock: AppClock, principal: Ingester
) -> LabelIngestResult:
    """Ground-truth labels by prediction id, counted at each prediction's time. Second labels and
    labels of unknown ids are reported and kept as label problems, never merged."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    return service.ingest_labels(db_session=db_session, clock=clock, system=system, batch=batch)


@router.get("/systems/{name}/label-problems")
def list_label_problems(
    name: str,
    db_session: DbSession,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Counts by problem, and the latest problems first."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    return {
        "counts": repository.label_problem_counts(db_session=db_session, system_id=system.id),
        "problems": [
            LabelProblemRead.model_validate(problem)
            for problem in repository.label_problems(db_session=db_session, system_id=system.id, limit=limit)
        ],
    }


@router.post(
    "/systems/{name}/model-versions", status_code=status.HTTP_201_CREATED, response_model=ModelVersionRead
)
def register_model_version(
    name: str, body: ModelVersionIn, db_session: DbSession, clock: AppClock, principal: Ingester
) -> ModelVersionRead:
    """A retrain: the new version, its outcome, metrics and (optionally) predictions on a fixed
    evaluation set. Retrain-stability SLOs get their reading from it."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    version = model_versions.register(db_session=db_session, clock=clock, system=system, body=body)
    return ModelVersionRead.model_validate(version)


@router.get("/systems/{name}/model-versions", response_model=list[ModelVersionRead])
def list_model_versions(
    name: str,
    db_session: DbSession,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ModelVersionRead]:
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    return [
        ModelVersionRead.model_validate(version)
        for version in repository.model_versions(db_session=db_session, system_id=system.id, limit=limit)
    ]


@router.post(
    "/systems/{name}/slos/{slo_name}/readings",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReadingIngestResult,
)
def push_readings(
    name: str, slo_name: str, batch: ReadingBatch, db_session: DbSession, principal: Ingester
) -> ReadingIngestResult:
    """Readings computed elsewhere (say, an offline robustness run) for a `push` value SLO."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    slo = slos_service.get_in_current_phase(db_session=db_session, system=system, name=slo_name)
    return model_versions.push_readings(db_session=db_session, slo=slo, batch=batch)


@router.get("/systems/{name}/slos/{slo_name}/quality", response_model=QualityReport)
def quality(
    name: str,
    slo_name: str,
    db_session: DbSession,
    principal: Reader,
    clock: AppClock,
    start: From = None,
    end: To = None,
) -> QualityReport:
    """A prediction-based SLO's metric over [from, to), as a whole and per model version, with the
    share of predictions labelled."""
    start, end = time_range(start, end, clock.now())
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    slo = slos_service.get_in_current_phase(db_session=db_session, system=system, name=slo_name)
    return service.quality_report(db_session=db_session, system=system, slo=slo, start=start, end=end)


@router.get("/systems/{name}/slos/{slo_name}/drift")
def drift_scores(
    name: str,
    slo_name: str,
    db_session: DbSession,
    principal: Reader,
    clock: AppClock,
    start: From = None,
    end: To = None,
) -> list[dict[str, Any]]:
    """Per-column drift scores of each check in [from, to), with method, threshold and direction."""
    start, end = time_range(start, end, clock.now())
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    slo = slos_service.get_in_current_phase(
        db_session=db_session, system=system, name=slo_name, include_archived=True
    )
    return [
        {
            "measured_at": score.measured_at,
            "model_version": score.model_version or None,
            "column": score.column_name,
            "method": score.method,
            "threshold": score.threshold,
            "score": score.score,
            "drifted": score.drifted,
            "drift_when": score.drift_when,
            "current_rows": score.current_rows,
        }
        for score in repository.drift_scores(db_session=db_session, slo_id=slo.id, start=start, end=end)
    ]


@router.get("/systems/{name}/readiness", response_model=ReadinessReport)
def readiness(name: str, db_session: DbSession, principal: Reader) -> ReadinessReport:
    """Which of the ML Test Score's seven monitoring tests the system's SLOs in force cover, the
    score, and what is missing."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    slos = [slo for slo, _ in slos_repository.list_in_force(db_session=db_session, system_id=system.id)]
    result = ml_test_score([(slo.name, SliKind(slo.sli_kind)) for slo in slos])
    minimum = (system.ml_test_score_minimums or {}).get(system.phase)
    return ReadinessReport(
        system=system.name,
        phase=system.phase,
        score=result.score,
        max_score=result.max_score,
        tests=[
            ReadinessTest(
                test=test.number,
                name=test.name,
                points=test.points,
                covered_by=list(test.covered_by),
                missing=test.missing,
            )
            for test in result.tests
        ],
        minimum_required=minimum,
        meets_minimum=minimum is None or result.score >= minimum,
    )
