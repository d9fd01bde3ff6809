"""The phase policies over the API, and the gate on promotion to production: every reason listed,
ready promotions recorded, admin overrides recorded with their reason, demotions always allowed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.main import AppDependencies, create_app
from app.systems import service as systems_service
from app.systems.models import Phase
from app.systems.schemas import SystemCreate
from tests.factories import create_slo, create_system

PHASE = "/api/v1/systems/recommender/phase"
CHECK = "/api/v1/systems/recommender/promotion-check"
SERVICE_OWNER = {"name": "web-team", "slack_channel": "#recs-oncall"}
MODEL_OWNER = {"name": "ml-team", "slack_channel": "#recs-ml"}

NO_SLOS = "no production SLOs applied: apply slo_definitions/recommender/production.yaml first"
NO_MODEL_OWNER = "no model owner: set model_owner (a name and a Slack channel) on the system"
NO_WEBHOOK = "no alert route: no Slack webhook is configured (set MLSLO_SLACK_WEBHOOK_URL)"
NO_MODEL_CHANNEL = (
    "no alert route to the model owner: production SLOs route to it (api-availability) "
    "but model_owner has no slack_channel"
)
NO_ML_SLI = (
    "no ML SLI among the production SLOs: add one of classification_quality, regression_error, "
    "prediction_bias, data_drift, data_quality, robustness, retrain_stability, model_staleness"
)


@pytest.fixture
def webhook_client(app_deps: AppDependencies) -> Iterator[TestClient]:
    """The app with a Slack webhook configured: the one alert route the settings provide."""
    settings = app_deps.settings.model_copy(
        update={"slack_webhook_url": SecretStr("http://127.0.0.1:9/hook")}
    )
    with TestClient(create_app(replace(app_deps, settings=settings))) as test_client:
        yield test_client


def register(client: TestClient, headers: dict[str, str], **fields: Any) -> None:
    body = {
        "name": "recommender",
        "phase": "technical_validation",
        "service_owner": SERVICE_OWNER,
        "model_owner": MODEL_OWNER,
        **fields,
    }
    response = client.post("/api/v1/systems", json=body, headers=headers)
    assert response.status_code == 201, response.text


def add_slos(
    db_session: Session,
    clock: ManualClock,
    *slos: tuple[str, str, str],
    phase: str = "production",
    archived: bool = False,
) -> None:
    """SLO rows as applying `<phase>.yaml` leaves them: (name, sli_kind, owner_side) each."""
    system = systems_service.get(db_session=db_session, name="recommender")
    for name, sli_kind, owner_side in slos:
        slo = create_slo(db_session, clock, system, name, sli_kind=sli_kind)
        slo.phase = phase
        slo.owner_side = owner_side
        slo.source_path = f"recommender/{phase}.yaml"
        slo.archived_at = clock.now() if archived else None
    db_session.commit()


def add_ready_slos(db_session: Session, clock: ManualClock) -> None:
    add_slos(
        db_session,
        clock,
        ("api-availability", "error_rate", "service"),
        ("recommendation-accuracy", "classification_quality", "model"),
    )


def history(client: TestClient, headers: dict[str, str]) -> list[tuple[str | None, str, str]]:
    response = client.get("/api/v1/systems/recommender/phase-changes", headers=headers)
    return [(h["from_phase"], h["to_phase"], h["reason"]) for h in response.json()]


def phase_of(client: TestClient, headers: dict[str, str]) -> str:
    phase: str = client.get("/api/v1/systems/recommender", headers=headers).json()["phase"]
    return phase


def test_refusal_without_slos_lists_every_reason_and_changes_nothing(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    register(client, admin_headers, model_owner=None)

    refused = client.post(PHASE, json={"phase": "production", "reason": "launch"}, headers=admin_headers)

    assert refused.status_code == 409, refused.text
    [detail] = refused.json()["detail"]
    assert detail["field"] == "phase"
    assert detail["loc"] == ["body", "phase"]
    assert "not ready for 'production'" in detail["msg"]
    assert detail["reasons"] == [NO_SLOS, NO_MODEL_OWNER, NO_WEBHOOK]
    assert phase_of(client, admin_headers) == "technical_validation"
    assert [to for _, to, _ in history(client, admin_headers)] == ["technical_validation"]


def test_refusal_lists_the_missing_channel_and_the_missing_ml_sli(
    client: TestClient, admin_headers: dict[str, str], db_session: Session, clock: ManualClock
) -> None:
    register(client, admin_headers, model_owner={"name": "ml-team"})
    add_slos(
        db_session,
        clock,
        ("api-availability", "error_rate", "model"),
        ("api-latency", "latency", "service"),
    )

    refused = client.post(PHASE, json={"phase": "production", "reason": "launch"}, headers=admin_headers)

    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"][0]["reasons"] == [NO_WEBHOOK, NO_MODEL_CHANNEL, NO_ML_SLI]


def test_slos_of_other_phases_and_archived_ones_do_not_count(
    webhook_client: TestClient, admin_headers: dict[str, str], db_session: Session, clock: ManualClock
) -> None:
    register(webhook_client, admin_headers)
    add_slos(
        db_session,
        clock,
        ("trial-availability", "error_rate", "service"),
        ("trial-accuracy", "classification_quality", "model"),
        phase="technical_validation",
    )
    add_slos(
        db_session,
        clock,
        ("api-availability", "error_rate", "service"),
        ("recommendation-accuracy", "classification_quality", "model"),
        archived=True,
    )

    refused = webhook_client.post(
        PHASE, json={"phase": "production", "reason": "launch"}, headers=admin_headers
    )

    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"][0]["reasons"] == [NO_SLOS]


def test_promotion_check_lists_the_same_reasons_and_turns_ready(
    client: TestClient,
    webhook_client: TestClient,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
    db_session: Session,
    clock: ManualClock,
) -> None:
    register(client, admin_headers, model_owner=None)

    check = client.get(CHECK, headers=read_headers)

    assert check.status_code == 200, check.text
    assert check.json() == {
        "target": "production",
        "ready": False,
        "reasons": [NO_SLOS, NO_MODEL_OWNER, NO_WEBHOOK],
        "ml_test_score": 0.0,
        "ml_test_score_max": 7.0,
        "ml_test_score_minimum": None,
    }

    add_ready_slos(db_session, clock)
    client.patch("/api/v1/systems/recommender", json={"model_owner": MODEL_OWNER}, headers=admin_headers)

    assert client.get(CHECK, headers=read_headers).json()["reasons"] == [NO_WEBHOOK]
    assert webhook_client.get(CHECK, headers=read_headers).json() == {
        "target": "production",
        "ready": True,
        "reasons": [],
        # recommendation-accuracy covers test 7 (prediction quality on served data).
        "ml_test_score": 1.0,
        "ml_test_score_max": 7.0,
        "ml_test_score_minimum": None,
    }


def test_a_ready_promotion_succeeds_and_is_recorded_as_asked(
    webhook_client: TestClient, admin_headers: dict[str, str], db_session: Session, clock: ManualClock
) -> None:
    register(webhook_client, admin_headers)
    add_ready_slos(db_session, clock)

    promoted = webhook_client.post(
        PHASE, json={"phase": "production", "reason": "launch"}, headers=admin_headers
    )

    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["reason"] == "launch"
    system = webhook_client.get("/api/v1/systems/recommender", headers=admin_headers).json()
    assert system["phase"] == "production"
    assert system["policy"]["phase"] == "production"
    assert history(webhook_client, admin_headers)[-1] == ("technical_validation", "production", "launch")


def test_an_override_with_a_reason_promotes_and_records_the_reason_and_what_was_unmet(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    register(client, admin_headers, model_owner=None)

    promoted = client.post(
        PHASE,
        json={
            "phase": "production",
            "reason": "launch",
            "override": True,
            "override_reason": "  campaign starts today; SLO files follow in INC-42  ",
        },
        headers=admin_headers,
    )

    assert promoted.status_code == 201, promoted.text
    expected_reason = (
        "launch\noverride: campaign starts today; SLO files follow in INC-42 "
        f"(unmet: {NO_SLOS}; {NO_MODEL_OWNER}; {NO_WEBHOOK})"
    )
    assert promoted.json()["reason"] == expected_reason
    assert promoted.json()["changed_by"] == "test-admin"
    assert phase_of(client, admin_headers) == "production"
    assert history(client, admin_headers)[-1] == ("technical_validation", "production", expected_reason)


def test_an_override_of_a_ready_system_records_only_the_reason_given(
    webhook_client: TestClient, admin_headers: dict[str, str], db_session: Session, clock: ManualClock
) -> None:
    register(webhook_client, admin_headers)
    add_ready_slos(db_session, clock)

    promoted = webhook_client.post(
        PHASE,
        json={"phase": "production", "reason": "launch", "override": True, "override_reason": "just in case"},
        headers=admin_headers,
    )

    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["reason"] == "launch"


@pytest.mark.parametrize(
    "override",
    [
        {"override": True},
        {"override": True, "override_reason": None},
        {"override": True, "override_reason": "   "},
        {"override": False, "override_reason": "a reason without an override"},
    ],
    ids=["missing", "null", "blank", "without-override"],
)
def test_an_override_needs_a_reason_and_a_reason_needs_an_override(
    client: TestClient, admin_headers: dict[str, str], override: dict[str, Any]
) -> None:
    register(client, admin_headers)

    refused = client.post(
        PHASE, json={"phase": "production", "reason": "launch", **override}, headers=admin_headers
    )

    assert refused.status_code == 422, refused.text
    assert [error["loc"] for error in refused.json()["detail"]] == [["body", "override_reason"]]
    assert phase_of(client, admin_headers) == "technical_validation"


def test_demotion_is_always_allowed(
    client: TestClient, admin_headers: dict[str, str], db_session: Session, clock: ManualClock
) -> None:
    # In production with no owner, no SLO and no webhook: nothing the gate asks for.
    systems_service.register(
        db_session=db_session,
        clock=clock,
        system_in=SystemCreate(name="recommender", phase=Phase.PRODUCTION),
        registered_by="test",
    )
    db_session.commit()

    down = client.post(PHASE, json={"phase": "technical_validation", "reason": "OOM"}, headers=admin_headers)
    assert down.status_code == 201, down.text
    down = client.post(PHASE, json={"phase": "concept", "reason": "rethink"}, headers=admin_headers)
    assert down.status_code == 201, down.text
    assert [(frm, to) for frm, to, _ in history(client, admin_headers)] == [
        (None, "production"),
        ("production", "technical_validation"),
        ("technical_validation", "concept"),
    ]


def test_promotion_to_technical_validation_is_not_gated_but_a_jump_to_production_is(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    register(client, admin_headers, phase="concept", model_owner=None)

    jump = client.post(PHASE, json={"phase": "production", "reason": "skip ahead"}, headers=admin_headers)
    assert jump.status_code == 409, jump.text
    assert jump.json()["detail"][0]["reasons"] == [NO_SLOS, NO_MODEL_OWNER, NO_WEBHOOK]

    step = client.post(
        PHASE, json={"phase": "technical_validation", "reason": "PoC worked"}, headers=admin_headers
    )
    assert step.status_code == 201, step.text


def test_registering_straight_into_production_is_refused_with_the_reasons(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    refused = client.post(
        "/api/v1/systems",
        json={"name": "recommender", "phase": "production", "service_owner": SERVICE_OWNER},
        headers=admin_headers,
    )

    assert refused.status_code == 409, refused.text
    [detail] = refused.json()["detail"]
    assert detail["field"] == "phase"
    assert "register it in 'technical_validation'" in detail["msg"]
    assert detail["reasons"] == [NO_SLOS, NO_MODEL_OWNER, NO_WEBHOOK]
    assert client.get("/api/v1/systems/recommender", headers=admin_headers).status_code == 404


def test_a_read_key_cannot_change_the_phase_even_with_an_override(
    client: TestClient, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    register(client, admin_headers)

    for body in (
        {"phase": "production", "reason": "launch", "override": True, "override_reason": "urgent"},
        {"phase": "concept", "reason": "demote"},
    ):
        assert client.post(PHASE, json=body, headers=read_headers).status_code == 403
    assert phase_of(client, admin_headers) == "technical_validation"


def test_phases_lists_the_three_policies(client: TestClient, read_headers: dict[str, str]) -> None:
    assert client.get("/api/v1/phases").status_code == 401

    response = client.get("/api/v1/phases", headers=read_headers)

    assert response.status_code == 200, response.text
    policies = {policy["phase"]: policy for policy in response.json()}
    assert list(policies) == ["concept", "technical_validation", "production"]
    flags = ("evaluates_budgets", "notifies", "allows_page", "allows_ticket", "slos_required")
    assert {phase: tuple(p[flag] for flag in flags) for phase, p in policies.items()} == {
        "concept": (False, False, False, False, False),
        "technical_validation": (True, True, False, True, False),
        "production": (True, True, True, True, True),
    }
    assert policies["production"]["requires_conventional_and_ml"] is True
    assert policies["production"]["error_budget_policy_applies"] is True
    assert all(policy["collects_slis"] and policy["summary"] for policy in policies.values())


def test_a_system_shows_the_policy_of_its_current_phase(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    register(client, admin_headers, phase="concept")
    system = client.get("/api/v1/systems/recommender", headers=admin_headers).json()
    assert system["policy"]["phase"] == "concept"
    assert system["policy"]["notifies"] is False

    client.post(PHASE, json={"phase": "technical_validation", "reason": "PoC worked"}, headers=admin_headers)

    [listed] = client.get("/api/v1/systems", headers=admin_headers).json()
    assert listed["policy"]["phase"] == "technical_validation"
    assert (listed["policy"]["allows_ticket"], listed["policy"]["allows_page"]) == (True, False)


def test_a_production_system_keeps_its_owners_and_channels(
    db_session: Session, clock: ManualClock, client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_system(db_session, clock, name="live")
    db_session.commit()

    removed = client.patch("/api/v1/systems/live", json={"model_owner": None}, headers=admin_headers)
    assert removed.status_code == 409, removed.text
    assert removed.json()["detail"][0]["field"] == "model_owner"
    channel_dropped = client.patch(
        "/api/v1/systems/live", json={"service_owner": {"name": "web-team"}}, headers=admin_headers
    )
    assert channel_dropped.status_code == 409
    assert (
        client.get("/api/v1/systems/live", headers=admin_headers).json()["model_owner"]["name"] == "ml-team"
    )
    # Handing over to another owner with a channel is fine.
    handed_over = client.patch(
        "/api/v1/systems/live",
        json={"service_owner": {"name": "platform", "slack_channel": "#platform-oncall"}},
        headers=admin_headers,
    )
    assert handed_over.status_code == 200, handed_over.text
