"""The ML Test Score over the API: the readiness report of a system's SLOs in force, and the minimum a
production file sets (`min_ml_test_score`), which the promotion check lists and the phase change
enforces until SLOs covering enough tests are applied."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.main import AppDependencies, create_app

SYSTEM = "/api/v1/systems/recommender"
APPLY = "/api/v1/slo-definitions/apply"
HEADER = "apiVersion: mlslo/v1\nkind: SLOSet\n"

ERRORS = (
    "  - name: api-errors\n    sli: {kind: error_rate, source: push}\n    objective: 0.999\n    window: 30d\n"
)
LATENCY = (
    "  - name: api-latency\n    sli: {kind: latency, source: push, threshold_ms: 300}\n"
    "    objective: 0.99\n    window: 30d\n"
)
ACCURACY = (
    "  - name: accuracy\n    sli: {kind: classification_quality, source: push, metric: accuracy}\n"
    "    objective: 0.9\n    window: 30d\n"
)
CHURN = (
    "  - name: churn\n    sli: {kind: retrain_stability, source: push, metric: prediction_churn}\n"
    "    objectives: [{target: 0.9, value: 0.05}]\n    time_slice: {window: 1d}\n    window: 28d\n"
)
STALENESS = (
    "  - name: model-age\n    sli: {kind: model_staleness, source: push, collect_every: 1h}\n"
    "    objectives: [{target: 0.9, value: 604800}]\n    time_slice: {window: 1h}\n    window: 28d\n"
)
VALIDITY = (
    "  - name: input-validity\n    sli: {kind: data_quality, source: push, metric: valid_rows}\n"
    "    objective: 0.995\n    window: 28d\n"
)


@pytest.fixture
def webhook_client(app_deps: AppDependencies) -> Iterator[TestClient]:
    """The app with a Slack webhook configured, so that only the score stands in the way."""
    settings = app_deps.settings.model_copy(
        update={"slack_webhook_url": SecretStr("http://127.0.0.1:9/hook")}
    )
    with TestClient(create_app(replace(app_deps, settings=settings))) as test_client:
        yield test_client


def _register(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/systems",
        json={
            "name": "recommender",
            "phase": "technical_validation",
            "service_owner": {"name": "web-team", "slack_channel": "#recs-oncall"},
            "model_owner": {"name": "ml-team", "slack_channel": "#recs-ml"},
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text


def _apply(client: TestClient, headers: dict[str, str], phase: str, slos: list[str], extra: str = "") -> None:
    content = HEADER + extra + "slos:\n" + "".join(slos)
    applied = client.post(
        APPLY, json={"files": [{"path": f"recommender/{phase}.yaml", "content": content}]}, headers=headers
    )
    assert applied.status_code == 200, applied.text


def _readiness(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"{SYSTEM}/readiness", headers=headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def test_readiness_reports_each_test_the_score_and_what_is_missing(
    client: TestClient, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    _register(client, admin_headers)
    assert _readiness(client, read_headers)["score"] == 0.0

    _apply(client, admin_headers, "technical_validation", [ERRORS, LATENCY, ACCURACY, CHURN])
    report = _readiness(client, read_headers)

    assert (report["system"], report["phase"]) == ("recommender", "technical_validation")
    # Latency covers test 6, accuracy test 7; error rate and churn cover none.
    assert (report["score"], report["max_score"]) == (2.0, 7.0)
    assert (report["minimum_required"], report["meets_minimum"]) == (None, True)
    tests = {test["test"]: test for test in report["tests"]}
    assert {n: t["covered_by"] for n, t in tests.items() if t["covered_by"]} == {
        6: ["api-latency"],
        7: ["accuracy"],
    }
    assert {n: t["points"] for n, t in tests.items()} == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 1, 7: 1}
    assert [n for n, t in tests.items() if t["missing"]] == [1, 2, 3, 4, 5]
    assert tests[4] == {
        "test": 4,
        "name": "models are not too stale",
        "points": 0.0,
        "covered_by": [],
        "missing": "add a model_staleness SLO",
    }

    assert client.get(f"{SYSTEM}/readiness").status_code == 401
    assert client.get("/api/v1/systems/unknown/readiness", headers=read_headers).status_code == 404


def test_the_production_minimum_blocks_promotion_until_enough_tests_are_covered(
    webhook_client: TestClient, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    client = webhook_client
    _register(client, admin_headers)
    _apply(client, admin_headers, "technical_validation", [ERRORS, ACCURACY])
    _apply(client, admin_headers, "production", [ERRORS, ACCURACY, STALENESS], "min_ml_test_score: 4\n")

    check = client.get(f"{SYSTEM}/promotion-check", headers=read_headers)

    assert check.status_code == 200, check.text
    body = check.json()
    assert (body["ready"], body["ml_test_score"], body["ml_test_score_max"]) == (False, 2.0, 7.0)
    assert body["ml_test_score_minimum"] == 4.0
    [reason] = body["reasons"]
    assert reason.startswith("ML Test Score 2 of 7 is below the 4 the production file requires; missing: ")
    for number in (1, 2, 3, 5, 6):
        assert f"test {number} (" in reason
    for number in (4, 7):
        assert f"test {number} (" not in reason
    assert (
        "test 6 (no regression in training speed, serving latency, throughput or RAM): add a latency"
        in reason
    )
    # The readiness report judges the phase the system is in, whose file sets no minimum.
    report = _readiness(client, read_headers)
    assert (report["score"], report["minimum_required"], report["meets_minimum"]) == (1.0, None, True)

    refused = client.post(
        f"{SYSTEM}/phase", json={"phase": "production", "reason": "launch"}, headers=admin_headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"][0]["reasons"] == [reason]

    # Latency (test 6) and data quality (tests 2 and 5) bring the score to 5 of 7.
    _apply(
        client,
        admin_headers,
        "production",
        [ERRORS, ACCURACY, STALENESS, LATENCY, VALIDITY],
        "min_ml_test_score: 4\n",
    )
    check = client.get(f"{SYSTEM}/promotion-check", headers=read_headers).json()
    assert (check["ready"], check["reasons"], check["ml_test_score"]) == (True, [], 5.0)

    promoted = client.post(
        f"{SYSTEM}/phase", json={"phase": "production", "reason": "launch"}, headers=admin_headers
    )
    assert promoted.status_code == 201, promoted.text
    report = _readiness(client, read_headers)
    assert (report["phase"], report["score"]) == ("production", 5.0)
    assert (report["minimum_required"], report["meets_minimum"]) == (4.0, True)
    assert [t["test"] for t in report["tests"] if t["missing"]] == [1, 3]


def test_a_minimum_reached_exactly_passes_and_dropping_it_lifts_the_requirement(
    webhook_client: TestClient, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    client = webhook_client
    _register(client, admin_headers)
    # Staleness (4), latency (6), accuracy (7): exactly 3.
    _apply(
        client, admin_headers, "production", [ERRORS, LATENCY, ACCURACY, STALENESS], "min_ml_test_score: 3\n"
    )
    check = client.get(f"{SYSTEM}/promotion-check", headers=read_headers).json()
    assert (check["ready"], check["ml_test_score"], check["ml_test_score_minimum"]) == (True, 3.0, 3.0)

    _apply(
        client,
        admin_headers,
        "production",
        [ERRORS, LATENCY, ACCURACY, STALENESS],
        "min_ml_test_score: 3.5\n",
    )
    assert client.get(f"{SYSTEM}/promotion-check", headers=read_headers).json()["ready"] is False

    _apply(client, admin_headers, "production", [ERRORS, LATENCY, ACCURACY, STALENESS])
    check = client.get(f"{SYSTEM}/promotion-check", headers=read_headers).json()
    assert (check["ready"], check["ml_test_score_minimum"]) == (True, None)
