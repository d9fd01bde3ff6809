"""Silences over HTTP (validation, scopes, listing, early expiry) and the matching rules the
notification outbox relies on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.alerting_policy import service
from app.auth.service import Scope
from app.clock import ManualClock
from app.db import SessionFactory
from app.systems.models import Phase
from tests.conftest import TEST_START, make_key
from tests.factories import create_slo, create_system

URL = "/api/v1/silences"


@pytest.fixture(autouse=True)
def systems(db_session: Session, clock: ManualClock) -> None:
    recommender = create_system(db_session, clock)
    create_slo(db_session, clock, recommender, "api-availability")
    create_slo(db_session, clock, recommender, "model-accuracy", sli_kind="latency", threshold_ms=300)
    staging = create_system(db_session, clock, "fraud-model", phase=Phase.TECHNICAL_VALIDATION)
    create_slo(db_session, clock, staging, "precision")
    db_session.commit()


def silence(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"system": "recommender", "duration": "2h", "comment": "deploying v42", **fields}
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def error_of(response: Any) -> tuple[int, str]:
    """The status and the field named by the first error, in either 422 shape."""
    detail = response.json()["detail"][0]
    return response.status_code, detail.get("field") or ".".join(str(p) for p in detail["loc"][1:])


def test_create_starts_now_and_records_the_key_name(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    created = silence(client, admin_headers, slo="api-availability", severity="page")

    assert created["system"] == "recommender"
    assert created["slo"] == "api-availability"
    assert created["severity"] == "page"
    assert created["starts_at"] == "2026-01-05T12:00:00Z"
    assert created["ends_at"] == "2026-01-05T14:00:00Z"
    assert created["created_by"] == "test-admin"
    assert created["created_at"] == "2026-01-05T12:00:00Z"
    assert created["comment"] == "deploying v42"
    assert created["expired_at"] is None
    assert created["state"] == "active"


def test_create_with_an_explicit_window_in_another_time_zone(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    created = silence(
        client,
        admin_headers,
        duration=None,
        starts_at="2026-01-05T14:00:00+01:00",
        ends_at="2026-01-06T14:00:00+01:00",
    )
    assert (created["starts_at"], created["ends_at"]) == ("2026-01-05T13:00:00Z", "2026-01-06T13:00:00Z")
    assert created["state"] == "pending"
    assert (created["slo"], created["severity"]) == (None, None)


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"system": "nope"}, 422, "system"),
        ({"slo": "nope"}, 422, "slo"),
        ({"system": "fraud-model", "slo": "api-availability"}, 422, "slo"),
        ({"severity": "critical"}, 422, "severity"),
        ({"comment": ""}, 422, "comment"),
        ({"comment": "   "}, 422, "comment"),
        ({"duration": "2 hours"}, 422, "duration"),
        ({"duration": "0h"}, 422, "duration"),
        ({"duration": "31d"}, 422, "duration"),
        ({"duration": None}, 422, "ends_at"),
        ({"ends_at": "2026-01-05T15:00:00Z"}, 422, "duration"),
        ({"duration": None, "ends_at": "2026-01-05T15:00:00"}, 422, "ends_at"),
        ({"duration": None, "ends_at": "2026-01-05T11:00:00Z"}, 422, "ends_at"),
        (
            {"duration": None, "starts_at": "2026-01-05T13:00:00Z", "ends_at": "2026-01-05T13:00:00Z"},
            422,
            "ends_at",
        ),
        (
            {"duration": None, "starts_at": "2026-01-05T13:00:00Z", "ends_at": "2026-02-04T13:00:01Z"},
            422,
            "ends_at",
        ),
        ({"starts_at": "2026-01-05T08:00:00Z", "duration": "1h"}, 422, "ends_at"),
        ({"unknown": 1}, 422, "unknown"),
    ],
)
def test_invalid_silences_are_refused_naming_the_field(
    client: TestClient, admin_headers: dict[str, str], fields: dict[str, Any], status: int, field: str
) -> None:
    body = {"system": "recommender", "duration": "2h", "comment": "deploying v42", **fields}
    body = {key: value for key, value in body.items() if value is not None}

    response = client.post(URL, json=body, headers=admin_headers)

    assert error_of(response) == (status, field), response.text
    assert client.get(URL, params={"active": False}, headers=admin_headers).json() == []


def test_a_silence_of_exactly_30_days_and_of_an_slo_in_another_phase_is_accepted(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert silence(client, admin_headers, duration="30d")["ends_at"] == "2026-02-04T12:00:00Z"
    assert silence(client, admin_headers, system="fraud-model", slo="precision")["slo"] == "precision"


def test_a_read_key_cannot_create_or_expire_silences_but_can_list_them(
    client: TestClient, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    created = silence(client, admin_headers)

    refused = client.post(
        URL, json={"system": "recommender", "duration": "2h", "comment": "x"}, headers=read_headers
    )
    assert refused.status_code == 403
    assert client.post(f"{URL}/{created['id']}/expire", headers=read_headers).status_code == 403
    assert client.post(URL, json={}).status_code == 401
    assert [s["id"] for s in client.get(URL, headers=read_headers).json()] == [created["id"]]


def test_a_key_bound_to_another_system_sees_only_its_own_silences(
    client: TestClient,
    session_factory: SessionFactory,
    clock: ManualClock,
    admin_headers: dict[str, str],
) -> None:
    theirs = silence(client, admin_headers)
    bound = {
        "Authorization": "Bearer "
        + make_key(session_factory, clock, "fraud-ops", Scope.ADMIN, system="fraud-model")
    }

    mine = silence(client, bound, system="fraud-model")
    refused = client.post(
        URL, json={"system": "recommender", "duration": "2h", "comment": "x"}, headers=bound
    )

    assert error_of(refused) == (422, "system")
    assert [s["id"] for s in client.get(URL, headers=bound).json()] == [mine["id"]]
    assert error_of(client.post(f"{URL}/{theirs['id']}/expire", headers=bound)) == (404, "silence_id")


def test_listing_active_and_all_and_expiring_early(
    client: TestClient, clock: ManualClock, admin_headers: dict[str, str]
) -> None:
    short = silence(client, admin_headers, duration="1h")
    long = silence(client, admin_headers, duration="1d")
    later = silence(client, admin_headers, starts_at="2026-01-06T12:00:00Z", duration="1h")

    clock.advance(timedelta(hours=2))
    active = client.get(URL, params={"active": True}, headers=admin_headers).json()
    assert [(s["id"], s["state"]) for s in active] == [(later["id"], "pending"), (long["id"], "active")]
    assert [s["id"] for s in client.get(URL, headers=admin_headers).json()] == [later["id"], long["id"]]
    everything = client.get(URL, params={"active": False}, headers=admin_headers).json()
    assert {s["id"]: s["state"] for s in everything} == {
        later["id"]: "pending",
        long["id"]: "active",
        short["id"]: "expired",
    }

    expired = client.post(f"{URL}/{long['id']}/expire", headers=admin_headers)
    assert expired.status_code == 200, expired.text
    assert expired.json()["expired_at"] == expired.json()["ends_at"] == "2026-01-05T14:00:00Z"
    assert expired.json()["state"] == "expired"

    cancelled = client.post(f"{URL}/{later['id']}/expire", headers=admin_headers).json()
    assert cancelled["ends_at"] == cancelled["expired_at"] == "2026-01-05T14:00:00Z"
    assert cancelled["starts_at"] == "2026-01-06T12:00:00Z"
    assert client.get(URL, headers=admin_headers).json() == []

    assert error_of(client.post(f"{URL}/{long['id']}/expire", headers=admin_headers)) == (409, "silence_id")
    assert error_of(client.post(f"{URL}/{short['id']}/expire", headers=admin_headers)) == (409, "silence_id")
    assert error_of(client.post(f"{URL}/999999/expire", headers=admin_headers)) == (404, "silence_id")
    assert client.post(f"{URL}/0/expire", headers=admin_headers).status_code == 422


def matches(
    db_session: Session, slo: str, severity: str, minutes: float = 0, system: str = "recommender"
) -> int | None:
    found = service.matching_silence(
        db_session=db_session,
        system=system,
        slo=slo,
        severity=severity,
        at=TEST_START + timedelta(minutes=minutes),
    )
    return None if found is None else found.id


def test_a_system_wide_silence_matches_every_slo_and_severity_of_that_system_only(
    client: TestClient, db_session: Session, admin_headers: dict[str, str]
) -> None:
    created = silence(client, admin_headers)["id"]

    assert matches(db_session, "api-availability", "page") == created
    assert matches(db_session, "model-accuracy", "ticket") == created
    assert matches(db_session, "precision", "page", system="fraud-model") is None


def test_per_slo_and_per_severity_silences_match_only_what_they_name(
    client: TestClient, db_session: Session, admin_headers: dict[str, str]
) -> None:
    pages_of_availability = silence(client, admin_headers, slo="api-availability", severity="page")["id"]
    tickets = silence(client, admin_headers, severity="ticket", duration="1h")["id"]

    assert matches(db_session, "api-availability", "page") == pages_of_availability
    assert matches(db_session, "model-accuracy", "page") is None
    assert matches(db_session, "api-availability", "ticket") == tickets
    assert matches(db_session, "model-accuracy", "ticket") == tickets


def test_matching_respects_the_time_bounds_and_early_expiry(
    client: TestClient, db_session: Session, clock: ManualClock, admin_headers: dict[str, str]
) -> None:
    window = silence(client, admin_headers, starts_at="2026-01-05T13:00:00Z", duration="1h")["id"]

    assert matches(db_session, "api-availability", "page", minutes=59) is None
    assert matches(db_session, "api-availability", "page", minutes=60) == window
    assert matches(db_session, "api-availability", "page", minutes=119.9) == window
    assert matches(db_session, "api-availability", "page", minutes=120) is None

    clock.advance(timedelta(minutes=90))
    assert client.post(f"{URL}/{window}/expire", headers=admin_headers).status_code == 200
    db_session.expire_all()
    assert matches(db_session, "api-availability", "page", minutes=75) is None
    assert matches(db_session, "api-availability", "page", minutes=100) is None


def test_of_several_matching_silences_the_longest_lasting_one_is_named(
    client: TestClient, db_session: Session, admin_headers: dict[str, str]
) -> None:
    silence(client, admin_headers, duration="1h")
    longest = silence(client, admin_headers, slo="api-availability", duration="3h")["id"]
    silence(client, admin_headers, severity="page", duration="2h")

    assert matches(db_session, "api-availability", "page") == longest
