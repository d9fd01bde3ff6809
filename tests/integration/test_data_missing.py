"""A collected SLI whose source fails: gaps, not bad events, then an "SLI data missing" alert that
resolves once collection resumes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, select, text

from app import migrations
from app.clock import ManualClock
from app.collectors.jobs import SourceCollectors
from app.collectors.service import collect_due
from app.config import Settings
from app.db import SessionFactory, create_session_factory, transaction
from app.evaluation import service as evaluation_service
from app.evaluation.models import Breach
from app.measurements.models import SloMinuteCount
from app.notifications.models import Notification
from tests.conftest import TEST_START, create_scratch_database
from tests.factories import create_slo, create_system

SOURCE_ENV = "MLSLO_TEST_DATA_MISSING_SOURCE_URL"


@pytest.fixture
def databases(postgres_admin_url: str) -> Iterator[tuple[SessionFactory, str]]:
    """mlslo's own database, and a source database the SQL collector reads."""
    engine = create_engine(create_scratch_database(postgres_admin_url, "mlslo_missing"))
    migrations.upgrade(engine)
    source_url = create_scratch_database(postgres_admin_url, "mlslo_missing_src")
    source = create_engine(source_url)
    with source.begin() as connection:
        connection.execute(text("CREATE TABLE job_result (ok boolean)"))
        connection.execute(text("INSERT INTO job_result VALUES (true), (true), (true), (false)"))
    source.dispose()
    yield create_session_factory(engine), source_url
    engine.dispose()


def test_a_failing_source_leaves_gaps_then_alerts_then_recovers(
    databases: tuple[SessionFactory, str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_factory, source_url = databases
    settings = settings.model_copy(update={"slack_webhook_url": SecretStr("http://127.0.0.1:9/hook")})
    clock = ManualClock(TEST_START)
    with session_factory() as db_session:
        system = create_system(db_session, clock)
        slo = create_slo(db_session, clock, system, "job-results", sli_kind="job_success", objective=0.5)
        slo.source = "sql"
        slo.definition = {
            "sli": {
                "kind": "job_success",
                "source": "sql",
                "collect_every": "1m",
                "sql": {
                    "connection_env": SOURCE_ENV,
                    "query": "SELECT count(*) FILTER (WHERE ok) AS good, count(*) AS total FROM job_result",
                },
            }
        }
        db_session.commit()
        slo_id = slo.id

    def minute(evaluate: bool = True) -> evaluation_service.EvaluationReport | None:
        with httpx.Client(timeout=5) as http_client:
            collect_due(
                session_factory=session_factory,
                clock=clock,
                http_client=http_client,
                collectors=SourceCollectors(),
                node="node-a",
            )
        report = None
        if evaluate:
            with transaction(session_factory) as db_session:
                report = evaluation_service.evaluate_all(
                    db_session=db_session, clock=clock, settings=settings
                )
        clock.advance(timedelta(minutes=1))
        return report

    monkeypatch.setenv(SOURCE_ENV, source_url)
    minute()  # collected: 3 good of 4
    monkeypatch.delenv(SOURCE_ENV)  # the source becomes unreachable
    reports = [minute() for _ in range(5)]
    opened = [breach for report in reports if report for breach in report.breaches_opened]
    # Three intervals without data are allowed; the fourth failed minute opens the alert.
    assert len(opened) == 1
    with session_factory() as db_session:
        counts = db_session.scalars(select(SloMinuteCount.total).where(SloMinuteCount.slo_id == slo_id)).all()
        assert counts == [4]  # the failed minutes are gaps, not bad events
        breach = db_session.get(Breach, opened[0])
        assert breach is not None
        assert (breach.severity, breach.opening_details["rule"]) == ("ticket", "data_missing")
        fired = db_session.scalars(select(Notification).where(Notification.breach_id == breach.id)).one()
        assert "SLI DATA MISSING" in fired.payload["blocks"][0]["text"]["text"]
        assert "no SLI data since 2026-01-05 12:00 UTC" in fired.payload["text"]

    monkeypatch.setenv(SOURCE_ENV, source_url)  # the source is back
    recovered = minute()
    assert recovered is not None
    assert recovered.breaches_resolved == opened
    with session_factory() as db_session:
        assert (
            sum(db_session.scalars(select(SloMinuteCount.total).where(SloMinuteCount.slo_id == slo_id))) == 8
        )
