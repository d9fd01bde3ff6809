"""The error-budget release freeze over HTTP, on budgets from real evaluations of pushed events:
exhaustion, exceptions granted and revoked, phases the policy does not apply to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.systems.models import Phase
from tests.conftest import TEST_START
from tests.factories import create_slo, create_system

FREEZE = "/api/v1/systems/recommender/freeze"
EXCEPTIONS = "/api/v1/systems/recommender/freeze-exceptions"


@pytest.fixture(autouse=True)
def recommender(db_session: Session, clock: ManualClock) -> None:
    system = create_system(db_session, clock)
    create_slo(db_session, clock, system, "api-availability", objective=0.99, period=timedelta(days=28))
    create_slo(db_session, clock, system, "api-latency", sli_kind="latency", threshold_ms=500, objective=0.9)
    db_session.commit()


def push_and_evaluate(client: TestClient, headers: dict[str, str], *, errors: int, total: int = 100) -> None:
    """`total` requests over the last ten minutes, all fast, the first `errors` of them failed."""
    start = TEST_START - timedelta(minutes=10)
    events = [
        {
            "time": (start + timedelta(seconds=6 * i)).isoformat(),
            "latency_ms": 100.0,
            "outcome": "error" if i < errors else "success",
        }
        for i in range(total)
    ]
    pushed = client.post(
        "/api/v1/systems/recommender/request-events", json={"events": events}, headers=headers
    )
    assert pushed.status_code == 202, pushed.text
    evaluated = client.post("/api/v1/evaluations", headers=headers)
    assert evaluated.status_code == 200, evaluated.text


def freeze(client: TestClient, headers: dict[str, str], url: str = FREEZE) -> dict[str, Any]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def grant(client: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    body = {"kind": "p0", "reason": "hotfix for the checkout outage", "duration": "1d", **fields}
    return client.post(EXCEPTIONS, json={k: v for k, v in body.items() if v is not None}, headers=headers)


def error_of(response: Any) -> tuple[int, str]:
    detail = response.json()["detail"][0]
    return response.status_code, detail.get("field") or ".".join(str(p) for p in detail["loc"][1:])


def test_budget_left_on_every_production_slo_is_not_frozen(
    client: TestClient, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    push_and_evaluate(client, admin_headers, errors=0)

    assert freeze(client, read_headers) == {
        "system": "recommender",
        "phase": "production",
        "policy_applies": True,
        "frozen": False,
        "budget_exhausted": False,
        "reasons": [],
        "exceptions": [],
        "summary": "error budgets remain on every production SLO: releases may proceed",
    }


def test_slos_never_evaluated_do_not_freeze(client: TestClient, read_headers: dict[str, str]) -> None:
    answer = freeze(client, read_headers)
    assert (answer["frozen"], answer["budget_exhausted"], answer["reasons"]) == (False, False, [])


def test_an_exhausted_budget_freezes_until_an_exception_is_granted_and_again_once_revoked(
    client: TestClient, clock: ManualClock, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    # 5 bad of 100 against a 1% budget: five times the budget, so 1 - 5 = -4 remains.
    push_and_evaluate(client, admin_headers, errors=5)

    frozen = freeze(client, read_headers)
    assert frozen["frozen"] is True
    assert frozen["budget_exhausted"] is True
    assert frozen["reasons"] == [
        {"slo": "api-availability", "error_budget_remaining": pytest.approx(-4.0), "window": "28d"}
    ]
    assert frozen["exceptions"] == []
    assert "frozen except P0 and security fixes" in frozen["summary"]

    granted = grant(client, admin_headers, kind="security", duration="2h")
    assert granted.status_code == 201, granted.text
    exception = granted.json()
    assert exception == {
        "id": exception["id"],
        "kind": "security",
        "reason": "hotfix for the checkout outage",
        "granted_by": "test-admin",
        "granted_at": "2026-01-05T12:00:00Z",
        "expires_at": "2026-01-05T14:00:00Z",
        "revoked_at": None,
    }
    lifted = freeze(client, read_headers)
    assert (lifted["frozen"], lifted["budget_exhausted"]) == (False, True)
    assert lifted["reasons"] == frozen["reasons"]
    assert lifted["exceptions"] == [exception]
    assert "an exception is in force" in lifted["summary"]

    clock.advance(timedelta(minutes=30))
    revoked = client.post(f"{EXCEPTIONS}/{exception['id']}/revoke", headers=admin_headers)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] == "2026-01-05T12:30:00Z"
    again = freeze(client, read_headers)
    assert (again["frozen"], again["exceptions"]) == (True, [])
    assert error_of(client.post(f"{EXCEPTIONS}/{exception['id']}/revoke", headers=admin_headers)) == (
        409,
        "exception_id",
    )


def test_an_exception_lapses_when_it_expires(
    client: TestClient, clock: ManualClock, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    push_and_evaluate(client, admin_headers, errors=50)
    exception = grant(client, admin_headers, duration=None, expires_at="2026-01-05T13:00:00+00:00").json()
    assert freeze(client, read_headers)["frozen"] is False

    clock.advance(timedelta(hours=1))

    assert freeze(client, read_headers)["frozen"] is True
    assert error_of(client.post(f"{EXCEPTIONS}/{exception['id']}/revoke", headers=admin_headers)) == (
        409,
        "exception_id",
    )


def test_systems_outside_production_are_never_frozen(
    client: TestClient,
    db_session: Session,
    clock: ManualClock,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    system = create_system(db_session, clock, "fraud-model", phase=Phase.TECHNICAL_VALIDATION)
    create_slo(db_session, clock, system, "availability", objective=0.99)
    db_session.commit()
    events = [
        {"time": (TEST_START - timedelta(minutes=5)).isoformat(), "latency_ms": 10.0, "outcome": "error"}
    ] * 50
    pushed = client.post(
        "/api/v1/systems/fraud-model/request-events", json={"events": events}, headers=admin_headers
    )
    assert pushed.status_code == 202, pushed.text
    assert client.post("/api/v1/evaluations", headers=admin_headers).status_code == 200
    slo = client.get("/api/v1/systems/fraud-model/slos/availability", headers=read_headers).json()
    assert slo["status"]["error_budget_remaining"] < 0

    answer = freeze(client, read_headers, "/api/v1/systems/fraud-model/freeze")

    assert answer["policy_applies"] is False
    assert (answer["frozen"], answer["budget_exhausted"], answer["reasons"]) == (False, False, [])
    assert answer["summary"] == (
        "system 'fraud-model' is in phase 'technical_validation': the error-budget policy applies only "
        "in production, so it is never frozen"
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "p1"}, "kind"),
        ({"reason": ""}, "reason"),
        ({"reason": "  "}, "reason"),
        ({"duration": "8d"}, "duration"),
        ({"duration": "1 day"}, "duration"),
        ({"duration": None}, "expires_at"),
        ({"expires_at": "2026-01-06T12:00:00Z"}, "duration"),
        ({"duration": None, "expires_at": "2026-01-12T12:00:01Z"}, "expires_at"),
        ({"duration": None, "expires_at": "2026-01-05T11:00:00Z"}, "expires_at"),
    ],
)
def test_invalid_exceptions_are_refused_naming_the_field(
    client: TestClient, admin_headers: dict[str, str], fields: dict[str, Any], field: str
) -> None:
    assert error_of(grant(client, admin_headers, **fields)) == (422, field)


def test_a_seven_day_exception_is_the_longest(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = grant(client, admin_headers, duration="7d")
    assert response.status_code == 201, response.text
    assert response.json()["expires_at"] == "2026-01-12T12:00:00Z"


def test_scopes_and_unknown_systems_and_exceptions(
    client: TestClient,
    db_session: Session,
    clock: ManualClock,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    assert grant(client, read_headers).status_code == 403
    assert client.get(FREEZE).status_code == 401
    assert error_of(client.get("/api/v1/systems/nope/freeze", headers=read_headers)) == (404, "name")
    assert error_of(
        client.post(
            "/api/v1/systems/nope/freeze-exceptions",
            json={"kind": "p0", "reason": "x", "duration": "1h"},
            headers=admin_headers,
        )
    ) == (404, "name")

    exception = grant(client, admin_headers).json()
    assert client.post(f"{EXCEPTIONS}/{exception['id']}/revoke", headers=read_headers).status_code == 403
    other = create_system(db_session, clock, "fraud-model")
    db_session.commit()
    assert error_of(
        client.post(
            f"/api/v1/systems/{other.name}/freeze-exceptions/{exception['id']}/revoke", headers=admin_headers
        )
    ) == (404, "exception_id")
    assert error_of(client.post(f"{EXCEPTIONS}/999999/revoke", headers=admin_headers)) == (
        404,
        "exception_id",
    )
