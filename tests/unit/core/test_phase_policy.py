"""The phase policy table and the production gate, on plain values."""

from __future__ import annotations

from dataclasses import astuple, replace

import pytest

from app.core.burn_rate_policy import Severity
from app.core.phase_policy import (
    PHASE_ORDER,
    POLICIES,
    GateFacts,
    GateOwner,
    GateSlo,
    is_gated,
    is_promotion,
    policy_for,
    unmet_requirements,
)
from app.core.sli_catalog import SliFamily
from app.systems.models import Phase

AVAILABILITY = GateSlo("api-availability", SliFamily.CONVENTIONAL, "service")
ACCURACY = GateSlo("accuracy", SliFamily.ML, "model")
READY = GateFacts(
    system="recommender",
    slos=(AVAILABILITY, ACCURACY),
    service_owner=GateOwner("web-team", "#recs-oncall"),
    model_owner=GateOwner("ml-team", "#recs-ml"),
    slack_webhook_configured=True,
)

NO_SLOS = "no production SLOs applied: apply slo_definitions/recommender/production.yaml first"
NO_SERVICE_OWNER = "no service owner: set service_owner (a name and a Slack channel) on the system"
NO_MODEL_OWNER = "no model owner: set model_owner (a name and a Slack channel) on the system"
NO_WEBHOOK = "no alert route: no Slack webhook is configured (set MLSLO_SLACK_WEBHOOK_URL)"


def test_the_policy_table_is_the_one_the_phases_promise() -> None:
    # (collects, evaluates, notifies, page, ticket, slos required, conventional+ml, budget policy)
    table = {policy.phase: astuple(policy)[1:9] for policy in POLICIES}
    assert table == {
        "concept": (True, False, False, False, False, False, False, False),
        "technical_validation": (True, True, True, False, True, False, False, False),
        "production": (True, True, True, True, True, True, True, True),
    }
    assert all(policy.summary and "\n" not in policy.summary for policy in POLICIES)


def test_every_phase_of_the_model_has_a_policy_in_order() -> None:
    assert tuple(phase.value for phase in Phase) == PHASE_ORDER
    assert tuple(policy.phase for policy in POLICIES) == PHASE_ORDER
    assert policy_for(Phase.PRODUCTION).phase == "production"


def test_an_unknown_phase_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown phase 'staging'"):
        policy_for("staging")


@pytest.mark.parametrize(
    ("phase", "page", "ticket"),
    [("concept", False, False), ("technical_validation", False, True), ("production", True, True)],
)
def test_which_severities_may_go_out(phase: str, page: bool, ticket: bool) -> None:
    policy = policy_for(phase)
    assert (policy.allows(Severity.PAGE), policy.allows(Severity.TICKET)) == (page, ticket)


def test_a_phase_that_does_not_notify_allows_no_alert_whatever_its_flags() -> None:
    silenced = replace(policy_for("production"), notifies=False)
    assert not silenced.allows(Severity.PAGE)
    assert not silenced.allows(Severity.TICKET)


def test_only_promotions_into_production_are_gated() -> None:
    assert is_promotion("concept", "technical_validation")
    assert not is_promotion("production", "concept")
    assert is_gated("technical_validation", "production")
    assert is_gated("concept", "production")
    assert not is_gated("concept", "technical_validation")
    assert not is_gated("production", "technical_validation")
    assert not is_gated("production", "concept")


def test_a_ready_system_has_no_unmet_requirement() -> None:
    assert unmet_requirements("production", READY) == []


def test_targets_that_require_no_slos_have_no_requirements() -> None:
    empty = GateFacts("recommender", (), GateOwner(None, None), GateOwner(None, None), False)
    assert unmet_requirements("technical_validation", empty) == []
    assert unmet_requirements("concept", empty) == []


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (replace(READY, slos=()), [NO_SLOS]),
        (
            replace(READY, service_owner=GateOwner(None, None)),
            # A missing owner has no channel either, and an SLO routes to the service side.
            [
                NO_SERVICE_OWNER,
                "no alert route to the service owner: production SLOs route to it (api-availability) "
                "but service_owner has no slack_channel",
            ],
        ),
        (replace(READY, model_owner=GateOwner("  ", "#recs-ml")), [NO_MODEL_OWNER]),
        (replace(READY, slack_webhook_configured=False), [NO_WEBHOOK]),
        (
            replace(READY, model_owner=GateOwner("ml-team", None)),
            [
                "no alert route to the model owner: production SLOs route to it (accuracy) "
                "but model_owner has no slack_channel"
            ],
        ),
        (
            replace(READY, slos=(AVAILABILITY,)),
            [
                "no ML SLI among the production SLOs: add one of classification_quality, "
                "regression_error, prediction_bias, data_drift, data_quality, robustness, "
                "retrain_stability, model_staleness"
            ],
        ),
        (
            replace(READY, slos=(ACCURACY,)),
            [
                "no conventional SLI among the production SLOs: add one of latency, error_rate, "
                "job_success, job_throughput, freshness"
            ],
        ),
    ],
    ids=["no-slos", "no-service-owner", "blank-model-owner", "no-webhook", "no-channel", "no-ml", "no-conv"],
)
def test_each_requirement_is_reported_on_its_own(facts: GateFacts, expected: list[str]) -> None:
    assert unmet_requirements("production", facts) == expected


def test_every_unmet_requirement_is_listed_at_once() -> None:
    facts = GateFacts(
        system="recommender",
        slos=(
            GateSlo("api-latency", SliFamily.CONVENTIONAL, "model"),
            GateSlo("api-availability", SliFamily.CONVENTIONAL, "model"),
            # Several objectives of one SLO are one name each; a name is listed once.
            GateSlo("api-availability", SliFamily.CONVENTIONAL, "model"),
        ),
        service_owner=GateOwner(None, None),
        model_owner=GateOwner("ml-team", ""),
        slack_webhook_configured=False,
    )
    assert unmet_requirements("production", facts) == [
        NO_SERVICE_OWNER,
        NO_WEBHOOK,
        "no alert route to the model owner: production SLOs route to it (api-availability, api-latency) "
        "but model_owner has no slack_channel",
        "no ML SLI among the production SLOs: add one of classification_quality, regression_error, "
        "prediction_bias, data_drift, data_quality, robustness, retrain_stability, model_staleness",
    ]


def test_without_slos_the_slo_content_checks_stay_quiet() -> None:
    facts = replace(READY, slos=(), model_owner=GateOwner("ml-team", None))
    # No SLO routes to the model owner yet, and "no production SLOs" already says what to do.
    assert unmet_requirements("production", facts) == [NO_SLOS]
