"""Inputs an API fuzz run answered with 500: each now gets a 4xx that names what is wrong, and
nothing is stored. (Found by schemathesis and by hand against a running service.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.clock import ManualClock
from tests.factories import create_slo, create_system

SYSTEM = "/api/v1/systems/recommender"


@pytest.fixture
def recommender(db_session: Session, clock: ManualClock) -> None:
    system = create_system(db_session, clock)
    create_slo(db_session, clock, system)
    db_session.commit()


def _post_raw(client: TestClient, path: str, body: str | bytes, headers: dict[str, str]) -> Any:
    return client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/request-events",
            '{"events": [{"time": "2026-01-05T11:00:00Z", "latency_ms": NaN, "outcome": "success"}]}',
        ),
        (
            "/request-events",
            '{"time": ["2026-01-05T11:00:00Z"], "latency_ms": [Infinity], "outcome": ["success"]}',
        ),
        (
            "/model-versions",
            '{"version": "v", "trained_at": "2026-01-05T11:00:00Z", "metrics": {"accuracy": NaN}}',
        ),
        ("/predictions", "1e999"),
    ],
)
def test_nan_and_infinity_are_refused_not_echoed_into_a_500(
    client: TestClient, admin_headers: dict[str, str], recommender: None, path: str, body: str
) -> None:
    answer = _post_raw(client, SYSTEM + path, body, admin_headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]


def test_text_that_is_not_unicode_is_refused(
    client: TestClient, admin_headers: dict[str, str], recommender: None
) -> None:
    surrogate = client.post(
        "/api/v1/systems",
        content='{"name": "\\ud800x"}',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert surrogate.status_code == 422, surrogate.text
    assert surrogate.json()["detail"][0]["field"] == "name"
    not_utf8 = _post_raw(client, SYSTEM + "/request-events", b"\xff\xfe\x00{", admin_headers)
    assert 400 <= not_utf8.status_code < 500, not_utf8.text
    stored = client.post(
        SYSTEM + "/predictions",
        content='{"predictions": [{"id": "s", "time": "2026-01-05T11:00:00Z", "model_version": "v", '
        '"label": "\\ud800", "features": {"\\udfff": "\\ud800"}}]}',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert stored.status_code == 422, stored.text
    assert "surrogate" in stored.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1900-01-01T00:00:00Z"]
)
def test_times_outside_1970_to_9000_are_refused_with_their_field(
    client: TestClient, admin_headers: dict[str, str], recommender: None, moment: str
) -> None:
    cases = [
        (
            SYSTEM + "/predictions",
            {"predictions": [{"id": "a", "time": moment, "model_version": "v", "label": 1}]},
            "predictions.0.time",
        ),
        (
            SYSTEM + "/job-runs",
            {"runs": [{"job": "j", "started_at": moment, "finished_at": moment, "outcome": "success"}]},
            "runs.0.started_at",
        ),
        (SYSTEM + "/model-versions", {"version": "old", "trained_at": moment}, "trained_at"),
        (
            "/api/v1/silences",
            {"system": "recommender", "starts_at": moment, "duration": "1h", "comment": "c"},
            "starts_at",
        ),
    ]
    for path, body, field in cases:
        answer = client.post(path, json=body, headers=admin_headers)
        assert answer.status_code == 422, (path, answer.text)
        assert field in [error.get("field") for error in answer.json()["detail"]], (path, answer.json())
    ranged = client.get(
        SYSTEM + "/slos/api-availability/samples", params={"to": moment}, headers=admin_headers
    )
    assert ranged.status_code == 422, ranged.text
    assert ranged.json()["detail"][0]["field"] == "to"


def test_absurd_durations_and_deep_yaml_are_refused(
    client: TestClient, admin_headers: dict[str, str], recommender: None
) -> None:
    silence = client.post(
        "/api/v1/silences",
        json={"system": "recommender", "duration": "1000000000w", "comment": "c"},
        headers=admin_headers,
    )
    assert silence.status_code == 422, silence.text
    assert "longer than 100 years" in silence.text
    definition = "apiVersion: mlslo/v1\nkind: SLOSet\nslos:\n  - name: a\n    sli: {kind: error_rate, source: push}\n    objective: 0.99\n    window: 99999999999d\n"
    deep = "[" * 5000 + "]" * 5000
    for content, expected in ((definition, "longer than 100 years"), (deep, "nested too deeply")):
        applied = client.post(
            "/api/v1/slo-definitions/apply",
            json={"files": [{"path": "recommender/production.yaml", "content": content}]},
            headers=admin_headers,
        )
        assert applied.status_code == 422, applied.text
        assert expected in applied.text


def test_a_full_batch_of_predictions_is_stored(
    client: TestClient, admin_headers: dict[str, str], recommender: None, clock: ManualClock
) -> None:
    at = (clock.now() - timedelta(minutes=5)).isoformat()
    batch = [{"id": f"p{i}", "time": at, "model_version": "v1", "label": 1} for i in range(10_000)]
    answer = client.post(SYSTEM + "/predictions", json={"predictions": batch}, headers=admin_headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 10_000


def test_a_tracker_url_that_grows_when_normalised_is_refused(
    client: TestClient, admin_headers: dict[str, str], recommender: None
) -> None:
    url = "https://" + "a" * (2083 - len("https://") - 4) + ".com"
    assert len(url) == 2083
    item = {"description": "d", "type": "prevent", "priority": "P0", "owner": "o", "tracker_url": url}
    answer = client.post(
        "/api/v1/postmortems",
        json={"title": "t", "summary": "s", "impact": "i", "breach_ids": [], "action_items": [item]},
        headers=admin_headers,
    )
    assert answer.status_code == 422, answer.text
    assert any("tracker_url" in str(error.get("field", "")) for error in answer.json()["detail"]), (
        answer.json()
    )


def test_text_with_a_nul_character_is_refused_naming_its_field(
    client: TestClient, admin_headers: dict[str, str], recommender: None, clock: ManualClock
) -> None:
    at = (clock.now() - timedelta(minutes=5)).isoformat()
    cases = [
        ("/api/v1/systems", {"name": "other", "description": "a\u0000b"}, "description"),
        (
            SYSTEM + "/predictions",
            {
                "predictions": [
                    {"id": "n", "time": at, "model_version": "v1", "label": 1, "features": {"x": "\u0000"}}
                ]
            },
            "predictions.0.features.x",
        ),
    ]
    for path, body, field in cases:
        answer = client.post(path, json=body, headers=admin_headers)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0].get("field") == field, (path, answer.json())
