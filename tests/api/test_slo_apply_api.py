"""POST /api/v1/slo-definitions/apply: admin only, all or nothing, every error with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import Scope
from app.clock import ManualClock
from app.db import SessionFactory
from app.slos.models import Slo
from app.systems import service as systems_service
from app.systems.models import Phase
from app.systems.schemas import SystemCreate
from tests.conftest import make_key

URL = "/api/v1/slo-definitions/apply"
DEFINITIONS = Path(__file__).resolve().parents[2] / "slo_definitions" / "recommender"
CORPUS = Path(__file__).resolve().parents[1] / "slo_errors"


# What slo_definitions/recommender/ holds, as `<phase>/<name>`; the demo and the end-to-end test rely
# on the first two production SLOs.
SHIPPED_SLOS = [
    "production/api-availability",
    "production/api-latency",
    "production/nightly-build-success",
    "production/nightly-build-throughput",
    "production/recommendation-accuracy",
    "production/recommendations-freshness",
    "production/retrain-stability",
    "technical_validation/api-availability",
    "technical_validation/nightly-build-success",
]


def shipped_files() -> list[dict[str, str]]:
    return [
        {"path": f"recommender/{path.name}", "content": path.read_text()}
        for path in sorted(DEFINITIONS.glob("*.yaml"))
    ]


@pytest.fixture
def recommender(db_session: Session, clock: ManualClock) -> None:
    systems_service.register(
        db_session=db_session,
        clock=clock,
        system_in=SystemCreate(name="recommender", phase=Phase.PRODUCTION),
        registered_by="test",
    )
    db_session.commit()


def slo_names(db_session: Session) -> list[str]:
    db_session.expire_all()
    return list(db_session.scalars(select(Slo.phase + "/" + Slo.name).order_by(Slo.phase, Slo.name)))


@pytest.mark.usefixtures("recommender")
def test_an_admin_applies_the_shipped_definitions(
    client: TestClient, admin_headers: dict[str, str], db_session: Session
) -> None:
    response = client.post(URL, json={"files": shipped_files()}, headers=admin_headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "applied": True,
        "created": [f"recommender/{name}" for name in SHIPPED_SLOS],
        "updated": [],
        "restored": [],
        "archived": [],
        "unchanged": [],
    }
    assert slo_names(db_session) == SHIPPED_SLOS

    again = client.post(URL, json={"files": shipped_files(), "dry_run": False}, headers=admin_headers)

    assert again.status_code == 200
    assert again.json()["created"] == []
    assert len(again.json()["unchanged"]) == len(SHIPPED_SLOS)


@pytest.mark.usefixtures("recommender")
def test_a_dry_run_reports_the_plan_and_changes_nothing(
    client: TestClient, admin_headers: dict[str, str], db_session: Session
) -> None:
    response = client.post(URL, json={"files": shipped_files(), "dry_run": True}, headers=admin_headers)

    assert response.status_code == 200
    assert response.json()["applied"] is False
    assert len(response.json()["created"]) == len(SHIPPED_SLOS)
    assert slo_names(db_session) == []


@pytest.mark.usefixtures("recommender")
def test_every_error_is_answered_with_file_line_and_field_and_nothing_is_applied(
    client: TestClient, admin_headers: dict[str, str], db_session: Session
) -> None:
    files = [
        *shipped_files(),
        {"path": "search/concept.yaml", "content": "apiVersion: mlslo/v1\nkind: SLOSet\nslos: [\n"},
        {
            "path": "recommender/production.yml",
            "content": "apiVersion: mlslo/v1\nkind: SLOSet\nslos:\n  - name: x\n    sli: {kind: latency}\n",
        },
    ]

    response = client.post(URL, json={"files": files}, headers=admin_headers)

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "file": "search/concept.yaml",
            "line": 4,
            "column": 1,
            "field": "",
            "msg": "invalid YAML: expected the node content, but found '<stream end>'",
            "loc": ["body", "files", 3],
        },
        {
            "file": "recommender/production.yml",
            "line": 4,
            "column": 5,
            "field": "slos[0].window",
            "msg": "required field is missing",
            "loc": ["body", "files", 4, "content", "slos", 0, "window"],
        },
        {
            "file": "recommender/production.yml",
            "line": 5,
            "column": 5,
            "field": "slos[0].sli.source",
            "msg": "required field is missing: one of push, prometheus, sql, http_probe, evidently",
            "loc": ["body", "files", 4, "content", "slos", 0, "sli", "source"],
        },
    ]
    assert slo_names(db_session) == []


@pytest.mark.usefixtures("recommender")
def test_one_broken_file_from_the_corpus_keeps_the_valid_ones_from_being_applied(
    client: TestClient, admin_headers: dict[str, str], db_session: Session
) -> None:
    broken = (CORPUS / "objective-is-one" / "recommender" / "technical_validation.yaml").read_text()
    files = [
        entry if entry["path"] != "recommender/technical_validation.yaml" else {**entry, "content": broken}
        for entry in shipped_files()
    ]

    response = client.post(URL, json={"files": files}, headers=admin_headers)

    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert (detail["file"], detail["line"], detail["field"]) == (
        "recommender/technical_validation.yaml",
        11,
        "slos[0].objective",
    )
    assert detail["msg"].startswith("must be below 1 (100%)")
    assert slo_names(db_session) == []


@pytest.mark.usefixtures("recommender")
def test_an_unregistered_system_or_a_second_file_for_one_phase_is_refused(
    client: TestClient, admin_headers: dict[str, str], db_session: Session
) -> None:
    files = [
        *shipped_files(),
        {
            "path": "search/technical_validation.yaml",
            "content": "apiVersion: mlslo/v1\nkind: SLOSet\nslos: []\n",
        },
        {"path": "recommender/concept.yml", "content": "apiVersion: mlslo/v1\nkind: SLOSet\nslos: []\n"},
    ]

    response = client.post(URL, json={"files": files}, headers=admin_headers)

    assert response.status_code == 422
    assert [(e["file"], e["line"], e["field"], e["loc"]) for e in response.json()["detail"]] == [
        ("recommender/concept.yml", None, "", ["body", "files", 4]),
        ("search/technical_validation.yaml", 1, "system", ["body", "files", 3, "content", "system"]),
    ]
    assert slo_names(db_session) == []


def test_a_read_or_ingest_key_is_forbidden(
    client: TestClient,
    read_headers: dict[str, str],
    session_factory: SessionFactory,
    clock: ManualClock,
) -> None:
    ingest_key = make_key(session_factory, clock, "test-ingest", Scope.INGEST)

    assert client.post(URL, json={"files": shipped_files()}, headers=read_headers).status_code == 403
    forbidden = client.post(
        URL, json={"files": shipped_files()}, headers={"Authorization": f"Bearer {ingest_key}"}
    )
    assert forbidden.status_code == 403


def test_no_key_is_unauthorized(client: TestClient) -> None:
    assert client.post(URL, json={"files": shipped_files()}).status_code == 401


def test_an_empty_or_malformed_request_is_rejected(client: TestClient, admin_headers: dict[str, str]) -> None:
    assert client.post(URL, json={"files": []}, headers=admin_headers).status_code == 422
    assert (
        client.post(URL, json={"files": [{"path": "a/concept.yaml"}]}, headers=admin_headers).status_code
        == 422
    )
