"""An SLO's definition history over the API: each apply that changes it is a version."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.systems.models import Phase
from tests.factories import create_system

FILE = """\
apiVersion: mlslo/v1
kind: SLOSet
slos:
  - name: nightly-build-throughput
    owner: service
    sli: {kind: job_throughput, source: push, job: nightly-build}
    objectives:
      - {target: TARGET, value: 5000}
    window: 28d
"""


def test_versions_record_each_change(
    db_session: Session, clock: ManualClock, client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_system(db_session, clock, phase=Phase.TECHNICAL_VALIDATION)
    db_session.commit()

    def apply(target: str) -> None:
        files = [{"path": "recommender/technical_validation.yaml", "content": FILE.replace("TARGET", target)}]
        response = client.post("/api/v1/slo-definitions/apply", json={"files": files}, headers=admin_headers)
        assert response.status_code == 200, response.text

    apply("0.9")
    clock.advance(timedelta(days=2))
    apply("0.95")

    slo = client.get(
        "/api/v1/systems/recommender/slos/nightly-build-throughput", headers=admin_headers
    ).json()
    assert (slo["version"], slo["objective"], slo["objective_op"], slo["objective_value"]) == (
        2,
        0.95,
        "gte",
        5000,
    )
    assert (slo["sli_kind"], slo["metric"], slo["budgeting_method"], slo["owner_side"]) == (
        "job_throughput",
        "rows_per_second",
        "occurrences",
        "service",
    )
    versions = client.get(
        "/api/v1/systems/recommender/slos/nightly-build-throughput/versions", headers=admin_headers
    ).json()
    assert [(v["version"], v["objective"], v["window"], v["applied_by"]) for v in versions] == [
        (1, 0.9, "28d", "test-admin"),
        (2, 0.95, "28d", "test-admin"),
    ]
    assert versions[1]["effective_from"].startswith("2026-01-07T12:00:00")
    missing = client.get("/api/v1/systems/recommender/slos/nope/versions", headers=admin_headers)
    assert missing.status_code == 404
