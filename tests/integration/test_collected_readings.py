"""A value SLI collected from SQL, applied from a definition file: each collection stores a reading,
the budget is judged slice by slice, and `missing_data` decides whether a failed collection is a
gap or a bad reading, and when the data counts as missing."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, select, text

from app.clock import ManualClock
from app.collectors.jobs import SourceCollectors
from app.collectors.models import CollectorRun
from app.collectors.service import collect_due
from app.config import Settings
from app.db import SessionFactory, transaction
from app.evaluation import service as evaluation_service
from app.evaluation.models import Breach, SloStatus
from app.slos import service as slos_service
from app.slos.loader import load_text
from app.slos.models import Slo
from app.systems import service as systems_service
from app.systems.models import Phase
from app.systems.schemas import SystemCreate
from tests.conftest import create_scratch_database

SOURCE_ENV = "MLSLO_TEST_READINGS_SOURCE_URL"
DEFINITION = """\
apiVersion: mlslo/v1
kind: SLOSet
system: recommender
phase: technical_validation
slos:
  - name: serving-model-age
    sli:
      kind: model_staleness
      source: sql
      collect_every: 5m
      missing_data: {missing}
      sql:
        connection_env: MLSLO_TEST_READINGS_SOURCE_URL
        query: SELECT age_seconds AS value FROM serving
    objectives:
      - target: 0.5
        value: 86400
    time_slice:
      window: 5m
    window: 1d
"""
GOOD_AGE, STALE_AGE = 3600.0, 100_000.0


@pytest.fixture
def source_url(postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    url = create_scratch_database(postgres_admin_url, "mlslo_readings_src")
    monkeypatch.setenv(SOURCE_ENV, url)
    return url


def _set_age(url: str, age: float | None) -> None:
    """The serving model's age in the monitored database; None drops the table (the query fails)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS serving"))
        if age is not None:
            connection.execute(text("CREATE TABLE serving (age_seconds float8)"))
            connection.execute(text("INSERT INTO serving VALUES (:age)"), {"age": age})
    engine.dispose()


def _apply(session_factory: SessionFactory, clock: ManualClock, missing: str) -> int:
    slo_file, errors = load_text("recommender/technical_validation.yaml", DEFINITION.format(missing=missing))
    assert errors == []
    assert slo_file is not None
    with transaction(session_factory) as db_session:
        systems_service.register(
            db_session=db_session,
            clock=clock,
            system_in=SystemCreate(name="recommender", phase=Phase.TECHNICAL_VALIDATION),
            registered_by="test",
        )
        slos_service.apply(db_session=db_session, clock=clock, files=[slo_file], applied_by="test")
        return db_session.scalars(select(Slo.id).where(Slo.name == "serving-model-age")).one()


def _every_five_minutes(
    session_factory: SessionFactory,
    clock: ManualClock,
    settings: Settings,
    ages: list[float | None],
    url: str,
) -> list[tuple[list[int], list[int]]]:
    """For each age: set it, collect, evaluate, and move on five minutes. Returns the breaches
    opened and resolved at each step."""
    changes = []
    for age in ages:
        _set_age(url, age)
        with httpx.Client() as client:
            collect_due(
                session_factory=session_factory,
                clock=clock,
                http_client=client,
                collectors=SourceCollectors(),
                node="test",
            )
        with transaction(session_factory) as db_session:
            report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=settings)
        changes.append((report.breaches_opened, report.breaches_resolved))
        clock.advance(timedelta(minutes=5))
    return changes


@pytest.fixture
def alerting(settings: Settings) -> Settings:
    return settings.model_copy(update={"slack_webhook_url": SecretStr("http://127.0.0.1:9/hook")})


def test_failed_collections_counted_as_bad_burn_the_budget(
    session_factory: SessionFactory,
    clock: ManualClock,
    alerting: Settings,
    source_url: str,
    client: TestClient,
    admin_headers: dict[str, str],
) -> None:
    clock.advance(timedelta(seconds=30))  # collections run a little after their slot starts
    first_slot = clock.now() - timedelta(seconds=30)
    slo_id = _apply(session_factory, clock, "{count_as: bad}")

    # Two readings, then the monitored table disappears for six collections, then it is back.
    ages: list[float | None] = [GOOD_AGE, STALE_AGE, None, None, None, None, None, None, GOOD_AGE]
    changes = _every_five_minutes(session_factory, clock, alerting, ages, source_url)

    with session_factory() as db_session:
        runs = db_session.scalars(
            select(CollectorRun).where(CollectorRun.slo_id == slo_id).order_by(CollectorRun.slot_start)
        ).all()
        assert [run.outcome for run in runs] == ["ok", "ok"] + ["failed"] * 6 + ["ok"]
        assert [run.value for run in runs] == [GOOD_AGE, STALE_AGE] + [None] * 6 + [GOOD_AGE]
        status = db_session.get(SloStatus, slo_id)
        assert status is not None
        # Nine five-minute slices: two good readings; one stale and six failed readings are bad.
        assert (status.good_events, status.total_events) == (2, 9)
        assert status.sli == pytest.approx(2 / 9)
        # The stale reading opened a burn-rate ticket, which the failed readings kept burning.
        opened = [breach for breach_ids, _ in changes for breach in breach_ids]
        assert opened == [changes[1][0][0]]
        breach = db_session.get(Breach, opened[0])
        assert breach is not None
        assert breach.opening_details["rule"] != "data_missing"
        assert breach.resolved_at is None

    readings = client.get(
        "/api/v1/systems/recommender/slos/serving-model-age/samples",
        headers=admin_headers,
        params={"from": (first_slot - timedelta(hours=1)).isoformat()},
    )
    assert readings.status_code == 200, readings.text
    assert [item["value"] for item in readings.json()] == [GOOD_AGE, STALE_AGE] + [None] * 6 + [GOOD_AGE]
    assert readings.json()[0]["measured_at"] == first_slot.isoformat().replace("+00:00", "Z")
    runs_read = client.get(
        "/api/v1/systems/recommender/slos/serving-model-age/collector-runs", headers=admin_headers
    ).json()
    assert runs_read[0]["value"] == GOOD_AGE


@pytest.mark.parametrize(("alert_after", "alerts"), [("12m", True), ("1h", False)])
def test_failed_collections_are_gaps_by_default_and_alert_after_the_allowed_time(
    session_factory: SessionFactory,
    clock: ManualClock,
    alerting: Settings,
    source_url: str,
    alert_after: str,
    alerts: bool,
) -> None:
    clock.advance(timedelta(seconds=30))
    first_slot = clock.now() - timedelta(seconds=30)
    slo_id = _apply(session_factory, clock, f"{{alert_after: {alert_after}}}")

    ages: list[float | None] = [GOOD_AGE, GOOD_AGE, None, None, None, GOOD_AGE]
    changes = _every_five_minutes(session_factory, clock, alerting, ages, source_url)

    with session_factory() as db_session:
        status = db_session.get(SloStatus, slo_id)
        assert status is not None
        # Only the three readings count; the three failed collections are neither good nor bad.
        assert (status.good_events, status.total_events) == (3, 3)
        breaches = db_session.scalars(select(Breach).where(Breach.slo_id == slo_id)).all()
    if not alerts:
        # Fifteen minutes without data is within the hour the SLO allows.
        assert breaches == []
        return
    # The last success was the slot at minute 5; past 12 minutes later (at minute 20) data is
    # missing, and the ticket resolves with the next successful collection.
    (breach,) = breaches
    assert breach.opening_details["rule"] == "data_missing"
    assert breach.opened_at == first_slot + timedelta(minutes=20, seconds=30)
    assert breach.resolved_at == first_slot + timedelta(minutes=25, seconds=30)
    assert [opened for opened, _ in changes] == [[], [], [], [], [breach.id], []]


def test_the_samples_endpoint_checks_its_range(client: TestClient, admin_headers: dict[str, str]) -> None:
    answer = client.get(
        "/api/v1/systems/recommender/slos/any/samples",
        headers=admin_headers,
        params={"from": "2026-01-05T00:00:00Z", "to": "2026-03-05T00:00:00Z"},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "from"
