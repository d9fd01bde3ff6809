"""Collector runs over the API and in /metrics."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.collectors.models import CollectorRun
from tests.factories import create_slo, create_system


def test_runs_are_listed_newest_first_and_exported(
    db_session: Session, clock: ManualClock, client: TestClient, admin_headers: dict[str, str]
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system, "health-probe")
    slo.source = "http_probe"
    start = clock.now() - timedelta(minutes=3)
    db_session.add_all(
        [
            CollectorRun(
                slo_id=slo.id,
                slot_start=start,
                claimed_by="a",
                claimed_at=start,
                outcome="ok",
                good=1,
                total=1,
            ),
            CollectorRun(
                slo_id=slo.id,
                slot_start=start + timedelta(minutes=1),
                claimed_by="b",
                claimed_at=start + timedelta(minutes=1),
                finished_at=start + timedelta(minutes=1, seconds=2),
                outcome="failed",
                error="timed out",
                duration_seconds=2.0,
            ),
        ]
    )
    db_session.commit()
    client.post("/api/v1/evaluations", headers=admin_headers)

    runs = client.get(
        "/api/v1/systems/recommender/slos/health-probe/collector-runs", headers=admin_headers
    ).json()
    assert [(run["claimed_by"], run["outcome"], run["error"]) for run in runs] == [
        ("b", "failed", "timed out"),
        ("a", "ok", None),
    ]
    metrics = client.get("/metrics").text
    assert 'mlslo_collector_runs_last_hour{outcome="failed"} 1.0' in metrics
    assert (
        'mlslo_collector_last_success_age_seconds{phase="production",slo="health-probe",system="recommender"} 180.0'
        in metrics
    )
    assert (
        'mlslo_collector_last_duration_seconds{outcome="failed",phase="production",slo="health-probe",'
        'system="recommender"} 2.0' in metrics
    )
    missing = client.get("/api/v1/systems/recommender/slos/nope/collector-runs", headers=admin_headers)
    assert missing.status_code == 404
