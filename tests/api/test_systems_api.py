"""Systems over REST: register, list, get, update, phase changes with their history, and auth."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session

from app.auth.service import Scope
from app.clock import ManualClock
from app.db import SessionFactory
from app.main import AppDependencies, create_app
from app.systems import service as systems_service
from tests.conftest import make_key
from tests.factories import create_slo

RECOMMENDER = {
    "name": "recommender",
    "description": "Job recommendations",
    "service_owner": {"name": "web-team", "slack_channel": "#recs-oncall"},
    "model_owner": {"name": "ml-team", "slack_channel": "#recs-ml"},
}


@pytest.fixture
def webhook_client(app_deps: AppDependencies) -> Iterator[TestClient]:
    """The app with a Slack webhook, so a system with production SLOs and owners passes the gate."""
    settings = app_deps.settings.model_copy(
        update={"slack_webhook_url": SecretStr("http://127.0.0.1:9/hook")}
    )
    with TestClient(create_app(replace(app_deps, settings=settings))) as test_client:
        yield test_client


def add_production_slos(db_session: Session, clock: ManualClock) -> None:
    """What applying recommender/production.yaml leaves: a conventional and an ML SLO."""
    system = systems_service.get(db_session=db_session, name="recommender")
    for name, sli_kind, owner_side in (
        ("api-availability", "error_rate", "service"),
        ("recommendation-accuracy", "classification_quality", "model"),
    ):
        slo = create_slo(db_session, clock, system, name, sli_kind=sli_kind)
        slo.phase = "production"
        slo.owner_side = owner_side
    db_session.commit()


def test_register_get_list_and_update(client: TestClient, admin_headers: dict[str, str]) -> None:
    created = client.post("/api/v1/systems", json=RECOMMENDER, headers=admin_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["phase"] == "concept"
    assert body["service_owner"] == {
        "name": "web-team",
        "slack_channel": "#recs-oncall",
        "page_slack_channel": None,
    }

    assert client.get("/api/v1/systems/recommender", headers=admin_headers).json()["name"] == "recommender"
    assert [s["name"] for s in client.get("/api/v1/systems", headers=admin_headers).json()] == ["recommender"]

    updated = client.patch(
        "/api/v1/systems/recommender",
        json={"description": "Recommendations v2", "model_owner": {"name": "ml-team-2"}},
        headers=admin_headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "Recommendations v2"
    assert updated.json()["model_owner"] == {
        "name": "ml-team-2",
        "slack_channel": None,
        "page_slack_channel": None,
    }
    # Fields not sent are kept.
    assert updated.json()["service_owner"]["slack_channel"] == "#recs-oncall"


def test_duplicate_name_is_a_conflict_naming_the_field(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert client.post("/api/v1/systems", json=RECOMMENDER, headers=admin_headers).status_code == 201
    again = client.post("/api/v1/systems", json=RECOMMENDER, headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["detail"][0]["field"] == "name"


def test_invalid_input_names_the_field(client: TestClient, admin_headers: dict[str, str]) -> None:
    bad = client.post(
        "/api/v1/systems",
        json={**RECOMMENDER, "name": "Bad Name", "service_owner": {"name": "x", "slack_channel": "no-hash"}},
        headers=admin_headers,
    )
    assert bad.status_code == 422
    locations = {tuple(error["loc"]) for error in bad.json()["detail"]}
    assert ("body", "name") in locations
    assert ("body", "service_owner", "slack_channel") in locations


def test_phase_changes_are_recorded_with_who_when_and_why(
    webhook_client: TestClient, admin_headers: dict[str, str], clock: ManualClock, db_session: Session
) -> None:
    client = webhook_client
    client.post("/api/v1/systems", json=RECOMMENDER, headers=admin_headers)
    clock.advance(timedelta(days=3))
    up = client.post(
        "/api/v1/systems/recommender/phase",
        json={"phase": "technical_validation", "reason": "PoC worked"},
        headers=admin_headers,
    )
    assert up.status_code == 201, up.text
    add_production_slos(db_session, clock)
    clock.advance(timedelta(days=30))
    launched = client.post(
        "/api/v1/systems/recommender/phase",
        json={"phase": "production", "reason": "launch"},
        headers=admin_headers,
    )
    assert launched.status_code == 201, launched.text
    clock.advance(timedelta(days=1))
    rolled_back = client.post(
        "/api/v1/systems/recommender/phase",
        json={"phase": "technical_validation", "reason": "rolled back after OOM"},
        headers=admin_headers,
    )
    assert rolled_back.status_code == 201, rolled_back.text
    assert (
        client.get("/api/v1/systems/recommender", headers=admin_headers).json()["phase"]
        == "technical_validation"
    )
    history = client.get("/api/v1/systems/recommender/phase-changes", headers=admin_headers).json()
    assert [(h["from_phase"], h["to_phase"], h["reason"]) for h in history] == [
        (None, "concept", "registered"),
        ("concept", "technical_validation", "PoC worked"),
        ("technical_validation", "production", "launch"),
        ("production", "technical_validation", "rolled back after OOM"),
    ]
    assert {h["changed_by"] for h in history} == {"test-admin"}
    assert history[2]["changed_at"].startswith("2026-02-07T12:00:00")


def test_changing_to_the_same_phase_is_refused(client: TestClient, admin_headers: dict[str, str]) -> None:
    client.post("/api/v1/systems", json=RECOMMENDER, headers=admin_headers)
    same = client.post(
        "/api/v1/systems/recommender/phase",
        json={"phase": "concept", "reason": "noop"},
        headers=admin_headers,
    )
    assert same.status_code == 409
    assert same.json()["detail"][0]["field"] == "phase"


def test_unknown_phase_is_422(client: TestClient, admin_headers: dict[str, str]) -> None:
    client.post("/api/v1/systems", json=RECOMMENDER, headers=admin_headers)
    bad = client.post(
        "/api/v1/systems/recommender/phase", json={"phase": "staging", "reason": "x"}, headers=admin_headers
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "phase"]


def test_missing_and_wrong_keys_get_401(client: TestClient) -> None:
    assert client.get("/api/v1/systems").status_code == 401
    wrong = client.get("/api/v1/systems", headers={"Authorization": "Bearer mlslo_deadbeef0000_nope"})
    assert wrong.status_code == 401
    assert client.get("/api/v1/systems", headers={"Authorization": "Bearer garbage"}).status_code == 401


def test_scopes_are_enforced(
    client: TestClient, admin_headers: dict[str, str], session_factory: SessionFactory, clock: ManualClock
) -> None:
    client.post("/api/v1/systems", json=RECOMMENDER, headers=admin_headers)
    reader = {"Authorization": f"Bearer {make_key(session_factory, clock, 'reader', Scope.READ)}"}
    ingester = {
        "Authorization": f"Bearer {make_key(session_factory, clock, 'ingest', Scope.INGEST, system='recommender')}"
    }
    assert client.get("/api/v1/systems/recommender", headers=reader).status_code == 200
    assert (
        client.post("/api/v1/systems", json={**RECOMMENDER, "name": "other"}, headers=reader).status_code
        == 403
    )
    assert client.get("/api/v1/systems/recommender", headers=ingester).status_code == 403
    phase = client.post(
        "/api/v1/systems/recommender/phase", json={"phase": "production", "reason": "x"}, headers=ingester
    )
    assert phase.status_code == 403


def test_system_bound_key_sees_only_its_system(
    client: TestClient, admin_headers: dict[str, str], session_factory: SessionFactory, clock: ManualClock
) -> None:
    client.post("/api/v1/systems", json=RECOMMENDER, headers=admin_headers)
    client.post("/api/v1/systems", json={**RECOMMENDER, "name": "fraud"}, headers=admin_headers)
    bound = {
        "Authorization": f"Bearer {make_key(session_factory, clock, 'recs-reader', Scope.READ, system='recommender')}"
    }
    assert [s["name"] for s in client.get("/api/v1/systems", headers=bound).json()] == ["recommender"]
    assert client.get("/api/v1/systems/fraud", headers=bound).status_code == 404


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/api/v1/systems" in spec["paths"]


def test_out_of_range_ids_are_422_not_500(client: TestClient, admin_headers: dict[str, str]) -> None:
    for path in (
        "/api/v1/breaches/99999999999",
        "/api/v1/postmortems/0",
        "/api/v1/notifications?breach_id=-1",
    ):
        response = client.get(path, headers=admin_headers)
        assert response.status_code == 422, (path, response.text)


def test_values_postgres_refuses_are_422_not_500(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/breaches", params={"system": "a\x00b"}, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["detail"][0]["msg"]
    described = client.post(
        "/api/v1/systems", json={"name": "nul", "description": "bad\x00text"}, headers=admin_headers
    )
    assert described.status_code == 422, described.text


def test_the_key_is_checked_before_an_ingestion_body_is_read(client: TestClient) -> None:
    response = client.post("/api/v1/systems/recommender/request-events", content=b"not json")
    assert response.status_code == 401
