"""The postmortem endpoints over HTTP: scopes, validation, system-bound keys and budget shares."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.service import Scope
from app.clock import ManualClock
from app.db import SessionFactory
from app.evaluation.models import Breach
from tests.conftest import TEST_START, make_key
from tests.integration.test_postmortems import (
    add_breach,
    add_counts,
    add_slo,
    add_system,
    seed_small_breach,
    seed_worked_example,
)

URL = "/api/v1/postmortems"

FULL_POSTMORTEM: dict[str, Any] = {
    "title": "Fraud model served errors after a bad deploy",
    "authors": ["alice", "bob"],
    "summary": "A model build without its feature map was deployed.",
    "impact": "0.6 of the 30-day error budget.",
    "root_causes": "The feature map was not versioned with the model.",
    "trigger": "Deploy of model v42.",
    "resolution": "Rolled back to v41.",
    "detection": "Fast-burn page after 30 minutes.",
    "action_items": [
        {
            "description": "Version the feature map with the model",
            "type": "prevent",
            "priority": "P0",
            "owner": "alice",
            "tracker_url": "https://tracker.example.com/ML-12",
        },
        {
            "description": "Add a canary",
            "type": "mitigate",
            "priority": "P1",
            "owner": "bob",
            "status": "done",
        },
    ],
    "lessons_learned": {"went_well": ["Rollback took 2 minutes"], "went_wrong": [], "got_lucky": []},
    "timeline": [{"at": "2026-01-05T10:05:00+01:00", "event": "v42 deployed"}],
}


def test_create_read_list_and_update(
    client: TestClient, db_session: Session, clock: ManualClock, admin_headers: dict[str, str]
) -> None:
    breach = seed_worked_example(db_session)

    created = client.post(URL, json={**FULL_POSTMORTEM, "breach_ids": [breach.id]}, headers=admin_headers)

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft"
    assert body["created_by"] == "test-admin"
    assert body["authors"] == ["alice", "bob"]
    assert body["action_items"][0]["status"] == "open"
    assert body["action_items"][0]["tracker_url"] == "https://tracker.example.com/ML-12"
    assert body["timeline"] == [{"at": "2026-01-05T09:05:00Z", "event": "v42 deployed"}]
    assert body["breach_ids"] == [breach.id]
    [impact] = body["breaches"]
    assert impact["system"] == "fraud-model"
    assert impact["slo"] == "availability"
    assert impact["severity"] == "page"
    assert impact["resolved_at"] == impact["window_end"] == "2026-01-05T11:00:00Z"
    assert impact["window_start"] == "2026-01-05T10:00:00Z"
    assert (impact["bad_events"], impact["total_events"], impact["period_total_events"]) == (
        60,
        1000,
        100_000,
    )
    assert impact["budget_consumed_share"] == pytest.approx(0.6)
    assert impact["postmortem_required"] is True
    assert body["total_budget_consumed_share"] == pytest.approx(0.6)
    assert body["postmortem_required"] is True

    postmortem_id = body["id"]
    fetched = client.get(f"{URL}/{postmortem_id}", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.json() == body
    listed = client.get(URL, headers=admin_headers)
    assert [p["id"] for p in listed.json()] == [postmortem_id]

    clock.advance(timedelta(days=1))
    updated = client.patch(
        f"{URL}/{postmortem_id}",
        json={"status": "published", "lessons_learned": {"got_lucky": ["Low traffic on a Sunday"]}},
        headers=admin_headers,
    )

    assert updated.status_code == 200, updated.text
    changed = updated.json()
    assert changed["status"] == "published"
    assert changed["lessons_learned"] == {
        "went_well": [],
        "went_wrong": [],
        "got_lucky": ["Low traffic on a Sunday"],
    }
    assert changed["summary"] == FULL_POSTMORTEM["summary"]
    assert changed["updated_at"] == "2026-01-06T12:00:00Z"
    assert changed["created_at"] == "2026-01-05T12:00:00Z"
    assert [p["id"] for p in client.get(URL, params={"status": "draft"}, headers=admin_headers).json()] == []


def test_update_replaces_breach_links(
    client: TestClient, db_session: Session, admin_headers: dict[str, str]
) -> None:
    first = seed_worked_example(db_session)
    second = seed_small_breach(db_session, "ranker")
    postmortem_id = client.post(
        URL, json={"title": "Outage", "breach_ids": [first.id]}, headers=admin_headers
    ).json()["id"]

    both = client.patch(
        f"{URL}/{postmortem_id}", json={"breach_ids": [second.id, first.id]}, headers=admin_headers
    )
    assert both.status_code == 200, both.text
    assert both.json()["breach_ids"] == sorted([first.id, second.id])
    assert both.json()["total_budget_consumed_share"] == pytest.approx(0.6 + 0.05)

    only_second = client.patch(
        f"{URL}/{postmortem_id}", json={"breach_ids": [second.id]}, headers=admin_headers
    )
    assert only_second.json()["breach_ids"] == [second.id]
    assert only_second.json()["postmortem_required"] is False
    assert client.get(f"{URL}/{postmortem_id}", headers=admin_headers).json()["breach_ids"] == [second.id]


def test_unknown_breach_is_a_422_naming_its_position(
    client: TestClient, db_session: Session, admin_headers: dict[str, str]
) -> None:
    first = seed_worked_example(db_session)
    second = seed_small_breach(db_session, "ranker")

    response = client.post(
        URL, json={"title": "t", "breach_ids": [first.id, second.id, 999_999]}, headers=admin_headers
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["field"] == "breach_ids.2"
    assert error["loc"] == ["body", "breach_ids", "2"]
    assert client.get(URL, headers=admin_headers).json() == []


def test_a_failed_update_changes_nothing(
    client: TestClient, db_session: Session, admin_headers: dict[str, str]
) -> None:
    breach = seed_worked_example(db_session)
    postmortem_id = client.post(
        URL, json={"title": "Outage", "breach_ids": [breach.id]}, headers=admin_headers
    ).json()["id"]

    response = client.patch(
        f"{URL}/{postmortem_id}", json={"title": "Renamed", "breach_ids": [999_999]}, headers=admin_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "breach_ids.0"
    unchanged = client.get(f"{URL}/{postmortem_id}", headers=admin_headers).json()
    assert (unchanged["title"], unchanged["breach_ids"]) == ("Outage", [breach.id])


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"title": "t", "breach_ids": []}, ["body", "breach_ids"]),
        ({"title": "t", "breach_ids": [1, 1]}, ["body", "breach_ids"]),
        ({"breach_ids": [1]}, ["body", "title"]),
        ({"title": "t", "breach_ids": [1], "severity": "page"}, ["body", "severity"]),
        ({"title": "t", "breach_ids": [1], "status": "done"}, ["body", "status"]),
        (
            {"title": "t", "breach_ids": [1], "timeline": [{"at": "2026-01-05T10:00:00", "event": "x"}]},
            ["body", "timeline", 0, "at"],
        ),
        (
            {
                "title": "t",
                "breach_ids": [1],
                "action_items": [{"description": "d", "type": "fix", "priority": "P0", "owner": "o"}],
            },
            ["body", "action_items", 0, "type"],
        ),
        (
            {"title": "t", "breach_ids": [1], "lessons_learned": {"went_badly": []}},
            ["body", "lessons_learned", "went_badly"],
        ),
    ],
)
def test_invalid_input_is_a_422(
    client: TestClient, admin_headers: dict[str, str], payload: dict[str, Any], loc: list[Any]
) -> None:
    response = client.post(URL, json=payload, headers=admin_headers)

    assert response.status_code == 422
    assert loc in [error["loc"] for error in response.json()["detail"]]


def test_update_rejects_null_for_a_field(
    client: TestClient, db_session: Session, admin_headers: dict[str, str]
) -> None:
    breach = seed_worked_example(db_session)
    postmortem_id = client.post(
        URL, json={"title": "Outage", "breach_ids": [breach.id]}, headers=admin_headers
    ).json()["id"]

    response = client.patch(f"{URL}/{postmortem_id}", json={"title": None}, headers=admin_headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "title"]


def test_open_breach_is_measured_up_to_the_clocks_now(
    client: TestClient, db_session: Session, clock: ManualClock, admin_headers: dict[str, str]
) -> None:
    system = add_system(db_session, "recommender")
    slo = add_slo(db_session, system, "availability", objective=0.99, period=timedelta(days=7))
    add_counts(
        db_session,
        slo,
        (TEST_START - timedelta(days=3), 9_000, 9_000),
        (TEST_START - timedelta(minutes=15), 900, 1_000),
        (TEST_START + timedelta(minutes=5), 0, 1_000),
    )
    breach = add_breach(
        db_session,
        slo,
        window_start=TEST_START - timedelta(minutes=30),
        opened_at=TEST_START - timedelta(minutes=20),
        resolved_at=None,
    )
    db_session.commit()
    postmortem_id = client.post(
        URL, json={"title": "Ongoing", "breach_ids": [breach.id]}, headers=admin_headers
    ).json()["id"]

    clock.advance(timedelta(minutes=10))
    [impact] = client.get(f"{URL}/{postmortem_id}", headers=admin_headers).json()["breaches"]

    assert impact["resolved_at"] is None
    assert impact["window_end"] == "2026-01-05T12:10:00Z"
    assert (impact["bad_events"], impact["period_total_events"]) == (1_100, 11_000)
    assert impact["budget_consumed_share"] == pytest.approx(1_100 / (0.01 * 11_000))


def test_read_key_may_read_but_not_write(
    client: TestClient,
    db_session: Session,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    breach = seed_worked_example(db_session)
    postmortem_id = client.post(
        URL, json={"title": "Outage", "breach_ids": [breach.id]}, headers=admin_headers
    ).json()["id"]

    assert client.get(URL, headers=read_headers).status_code == 200
    assert client.get(f"{URL}/{postmortem_id}", headers=read_headers).status_code == 200
    create = client.post(URL, json={"title": "t", "breach_ids": [breach.id]}, headers=read_headers)
    assert create.status_code == 403
    update = client.patch(f"{URL}/{postmortem_id}", json={"title": "x"}, headers=read_headers)
    assert update.status_code == 403


def test_no_key_is_a_401(client: TestClient) -> None:
    assert client.get(URL).status_code == 401
    assert client.get(f"{URL}/1").status_code == 401
    assert client.post(URL, json={"title": "t", "breach_ids": [1]}).status_code == 401
    assert client.patch(f"{URL}/1", json={"title": "t"}).status_code == 401


def test_unknown_postmortem_is_a_404(client: TestClient, admin_headers: dict[str, str]) -> None:
    assert client.get(f"{URL}/999999", headers=admin_headers).status_code == 404
    assert client.patch(f"{URL}/999999", json={"title": "t"}, headers=admin_headers).status_code == 404


def test_a_system_bound_key_sees_only_its_systems_postmortems(
    client: TestClient,
    db_session: Session,
    session_factory: SessionFactory,
    clock: ManualClock,
    admin_headers: dict[str, str],
) -> None:
    own = seed_worked_example(db_session, "fraud-model")
    other = seed_small_breach(db_session, "ranker")

    def create(breaches: list[Breach]) -> int:
        response = client.post(
            URL, json={"title": "t", "breach_ids": [b.id for b in breaches]}, headers=admin_headers
        )
        assert response.status_code == 201, response.text
        postmortem_id: int = response.json()["id"]
        return postmortem_id

    own_id, other_id, mixed_id = create([own]), create([other]), create([own, other])
    bound_reader = {
        "Authorization": f"Bearer {make_key(session_factory, clock, 'fraud-reader', Scope.READ, system='fraud-model')}"
    }
    bound_admin = {
        "Authorization": f"Bearer {make_key(session_factory, clock, 'fraud-admin', Scope.ADMIN, system='fraud-model')}"
    }

    assert [p["id"] for p in client.get(URL, headers=bound_reader).json()] == [own_id]
    assert client.get(f"{URL}/{own_id}", headers=bound_reader).status_code == 200
    for hidden in (other_id, mixed_id):
        assert client.get(f"{URL}/{hidden}", headers=bound_reader).status_code == 404
        assert client.patch(f"{URL}/{hidden}", json={"title": "x"}, headers=bound_admin).status_code == 404
    # Another system's breach cannot be linked, and answers as if it did not exist.
    response = client.post(URL, json={"title": "t", "breach_ids": [own.id, other.id]}, headers=bound_admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "breach_ids.1"
    response = client.patch(f"{URL}/{own_id}", json={"breach_ids": [other.id]}, headers=bound_admin)
    assert response.status_code == 422
    created = client.post(URL, json={"title": "own", "breach_ids": [own.id]}, headers=bound_admin)
    assert created.status_code == 201
    assert created.json()["created_by"] == "fraud-admin"


def test_timeline_with_breaches_is_sorted(
    client: TestClient, db_session: Session, admin_headers: dict[str, str]
) -> None:
    breach = seed_worked_example(db_session)
    body = client.post(
        URL,
        json={
            "title": "Outage",
            "breach_ids": [breach.id],
            "timeline": [
                {"at": "2026-01-05T11:30:00Z", "event": "Postmortem meeting"},
                {"at": "2026-01-05T09:55:00Z", "event": "v42 deployed"},
            ],
        },
        headers=admin_headers,
    ).json()

    assert [(e["at"], e["source"]) for e in body["timeline_with_breaches"]] == [
        ("2026-01-05T09:55:00Z", "postmortem"),
        ("2026-01-05T10:30:00Z", "breach"),
        ("2026-01-05T11:00:00Z", "breach"),
        ("2026-01-05T11:30:00Z", "postmortem"),
    ]
