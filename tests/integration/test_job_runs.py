"""Pushed job runs counted into the minute counts of job SLOs, on real Postgres and over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import Scope
from app.clock import ManualClock
from app.config import Settings
from app.db import SessionFactory
from app.errors import InvalidInputError
from app.evaluation import service as evaluation_service
from app.evaluation.models import Breach, SloStatus
from app.measurements.job_runs import JobRun, JobRunBatch, ingest_job_runs
from app.measurements.models import SloMinuteCount
from app.slos.models import Slo
from app.systems.models import System
from tests.conftest import make_key
from tests.factories import create_slo, create_system


@pytest.fixture
def alerting_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"slack_webhook_url": SecretStr("http://127.0.0.1:9/hook")})


def _job_slo(
    db_session: Session,
    clock: ManualClock,
    system: System,
    name: str,
    *,
    sli_kind: str = "job_success",
    job: str | None = "nightly-build",
    op: str | None = None,
    value: float | None = None,
) -> Slo:
    slo = create_slo(db_session, clock, system, name, sli_kind=sli_kind, period=timedelta(days=28))
    slo.definition = {"sli": {"job": job}} if job is not None else {"sli": {}}
    slo.objective_op = op
    slo.objective_value = value
    db_session.flush()
    return slo


def _run(
    finished_at: datetime,
    *,
    job: str = "nightly-build",
    seconds: float = 60,
    outcome: str = "success",
    rows: int | None = None,
) -> JobRun:
    return JobRun.model_validate(
        {
            "job": job,
            "started_at": finished_at - timedelta(seconds=seconds),
            "finished_at": finished_at,
            "outcome": outcome,
            "rows_processed": rows,
        }
    )


def _stored(db_session: Session) -> dict[tuple[int, datetime], tuple[int, int]]:
    rows = db_session.scalars(select(SloMinuteCount)).all()
    return {(r.slo_id, r.minute.astimezone(UTC)): (r.good, r.total) for r in rows}


def test_runs_count_at_their_finishing_minute_for_the_slos_of_their_job(
    db_session: Session, clock: ManualClock
) -> None:
    system = create_system(db_session, clock)
    success = _job_slo(db_session, clock, system, "build-success")
    fast = _job_slo(db_session, clock, system, "build-throughput", sli_kind="job_throughput", value=20.0)
    any_job = _job_slo(db_session, clock, system, "all-jobs", job=None)
    other_job = _job_slo(db_session, clock, system, "retrain-success", job="weekly-retrain")
    pulled = _job_slo(db_session, clock, system, "pulled-success")
    pulled.source = "prometheus"
    request_slo = create_slo(db_session, clock, system, "availability")
    db_session.flush()
    minute = clock.now() - timedelta(minutes=10)
    runs = [
        _run(minute + timedelta(seconds=5), rows=1200),  # 20 rows/s: good everywhere
        _run(minute + timedelta(seconds=50), rows=600),  # 10 rows/s: too slow
        _run(minute + timedelta(seconds=55), outcome="failure", rows=5000),
        _run(minute + timedelta(minutes=1), rows=None),  # no row count: bad for throughput
        _run(minute + timedelta(minutes=1), seconds=0, rows=1000),  # zero duration: bad for throughput
        _run(minute + timedelta(minutes=2), job="data-export", outcome="failure"),
    ]

    result = ingest_job_runs(db_session=db_session, clock=clock, system=system, batch=JobRunBatch(runs=runs))

    assert result.accepted_runs == 6
    assert sorted(result.slos_updated) == ["all-jobs", "build-success", "build-throughput"]
    later = minute + timedelta(minutes=1)
    assert _stored(db_session) == {
        (success.id, minute): (2, 3),
        (success.id, later): (2, 2),
        (fast.id, minute): (1, 3),
        (fast.id, later): (0, 2),
        (any_job.id, minute): (2, 3),
        (any_job.id, later): (2, 2),
        (any_job.id, minute + timedelta(minutes=2)): (0, 1),
    }
    assert result.minutes_updated == 7
    assert {other_job.id, pulled.id, request_slo.id}.isdisjoint(slo_id for slo_id, _ in _stored(db_session))


def test_a_throughput_objective_compares_with_its_op(db_session: Session, clock: ManualClock) -> None:
    system = create_system(db_session, clock)
    capped = _job_slo(
        db_session, clock, system, "not-too-fast", sli_kind="job_throughput", op="lte", value=15.0
    )
    finished = clock.now() - timedelta(minutes=1)
    batch = JobRunBatch(runs=[_run(finished, rows=1200), _run(finished, rows=600)])
    ingest_job_runs(db_session=db_session, clock=clock, system=system, batch=batch)
    assert _stored(db_session) == {(capped.id, finished.replace(second=0, microsecond=0)): (1, 2)}


def test_runs_finishing_far_in_the_future_are_refused_with_the_field(
    db_session: Session, clock: ManualClock
) -> None:
    system = create_system(db_session, clock)
    _job_slo(db_session, clock, system, "build-success")
    batch = JobRunBatch(
        runs=[
            _run(clock.now()),
            _run(clock.now() + timedelta(minutes=5)),
            _run(clock.now() + timedelta(hours=1)),
        ]
    )
    with pytest.raises(InvalidInputError, match="in the future") as raised:
        ingest_job_runs(db_session=db_session, clock=clock, system=system, batch=batch)
    assert raised.value.field == "runs.2.finished_at"
    assert _stored(db_session) == {}


def test_a_run_cannot_finish_before_it_started() -> None:
    with pytest.raises(ValidationError) as raised:
        JobRun.model_validate(
            {
                "job": "nightly-build",
                "started_at": "2026-01-05T12:00:00Z",
                "finished_at": "2026-01-05T11:59:00Z",
                "outcome": "success",
            }
        )
    assert raised.value.errors()[0]["loc"] == ("finished_at",)


def test_two_failed_runs_open_a_ticket_on_a_count_based_job_slo(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = _job_slo(db_session, clock, system, "build-success")
    slo.max_bad_events = 1
    db_session.flush()
    now = clock.now()
    first_batch = JobRunBatch(
        runs=[
            _run(now - timedelta(days=3)),
            _run(now - timedelta(days=2)),
            _run(now - timedelta(days=1), outcome="failure"),
        ]
    )
    ingest_job_runs(db_session=db_session, clock=clock, system=system, batch=first_batch)
    first = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert first.breaches_opened == []

    second_batch = JobRunBatch(runs=[_run(now - timedelta(hours=1), outcome="failure")])
    ingest_job_runs(db_session=db_session, clock=clock, system=system, batch=second_batch)
    second = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)

    assert len(second.breaches_opened) == 1
    breach = db_session.get(Breach, second.breaches_opened[0])
    assert breach is not None
    assert breach.severity == "ticket"
    assert breach.opening_details == {
        "rule": "count",
        "bad_events": 2,
        "max_bad_events": 1,
        "sli": pytest.approx(2 / 4),
    }


def _body(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"runs": list(runs)}


def test_job_runs_over_the_api(
    client: TestClient, session_factory: SessionFactory, clock: ManualClock
) -> None:
    with session_factory() as session:
        system = create_system(session, clock)
        create_system(session, clock, "fraud-detector")
        _job_slo(session, clock, system, "build-success")
        session.commit()
    headers = {
        "Authorization": f"Bearer {make_key(session_factory, clock, 'ci', Scope.INGEST, system='recommender')}"
    }
    url = "/api/v1/systems/recommender/job-runs"
    finished = clock.now() - timedelta(minutes=3)
    run = {
        "job": "nightly-build",
        "started_at": (finished - timedelta(minutes=20)).isoformat().replace("+00:00", "Z"),
        "finished_at": finished.isoformat().replace("+00:00", "Z"),
        "outcome": "success",
        "rows_processed": 12345,
    }

    response = client.post(url, headers=headers, json=_body(run, {**run, "outcome": "failure"}))

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted_runs": 2, "slos_updated": ["build-success"], "minutes_updated": 1}
    with session_factory() as session:
        assert [(r.good, r.total) for r in session.scalars(select(SloMinuteCount))] == [(1, 2)]

    future = {**run, "finished_at": (clock.now() + timedelta(hours=1)).isoformat()}
    refused = client.post(url, headers=headers, json=_body(run, future))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "runs", "1", "finished_at"]

    backwards = {**run, "started_at": (finished + timedelta(seconds=1)).isoformat()}
    invalid = client.post(url, headers=headers, json=_body(backwards))
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "runs", 0, "finished_at"]
    for bad in ({**run, "rows_processed": -1}, {**run, "finished_at": "2026-01-05T11:00:00"}):
        assert client.post(url, headers=headers, json=_body(bad)).status_code == 422
    assert client.post(url, headers=headers, json={"runs": []}).status_code == 422

    assert (
        client.post("/api/v1/systems/fraud-detector/job-runs", headers=headers, json=_body(run)).status_code
        == 404
    )
    reader = {"Authorization": f"Bearer {make_key(session_factory, clock, 'reader', Scope.READ)}"}
    assert client.post(url, headers=reader, json=_body(run)).status_code == 403


def test_freshness_judges_each_hour_by_the_age_of_the_last_successful_run(
    db_session: Session, clock: ManualClock, settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(
        db_session,
        clock,
        system,
        "recommendations-freshness",
        sli_kind="freshness",
        objective=0.9,
        period=timedelta(days=7),
    )
    slo.metric = "age_seconds"
    slo.objective_op, slo.objective_value = "lte", 26 * 3600.0
    slo.budgeting_method, slo.time_slice_window = "timeslices", timedelta(hours=1)
    slo.definition = {"sli": {"kind": "freshness", "source": "push", "job": "nightly-build"}}
    db_session.flush()
    # A nightly build at 02:00 every day of the last week but one: 1 January did not run.
    first_day = clock.now().replace(hour=2) - timedelta(days=7)
    runs = [
        JobRun(job="nightly-build", started_at=day - timedelta(hours=1), finished_at=day, outcome="success")
        for day in (first_day + timedelta(days=d) for d in range(8))
        if day.date().isoformat() != "2026-01-01"
    ]
    ingest_job_runs(db_session=db_session, clock=clock, system=system, batch=JobRunBatch(runs=runs))

    evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=settings)

    db_session.expire_all()
    status = db_session.get(SloStatus, slo.id)
    assert status is not None
    # 168 hourly slices; stale from 05:00 on 1 January (26 h after the last build) to 01:00 on
    # 2 January: 21 slices.
    assert (status.good_events, status.total_events) == (147, 168)
    assert status.error_budget_remaining == pytest.approx(1 - 21 / (0.1 * 168))
