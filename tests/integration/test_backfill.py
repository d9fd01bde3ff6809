"""Backfilling 7 days of history from a real Prometheus server holding exact counters.

Two counters, `api_requests_total{code="200"}` and `{code="500"}`, are sampled every 60 s over the
7 days before END and increase by 59 and 1 per sample. They are written as OpenMetrics,
backfilled with `promtool tsdb create-blocks-from openmetrics`, and served by `prometheus`.

With 5-minute steps on the samples, each step's `increase()` spans samples exactly (no
extrapolation), so the backfill must store exactly 60 requests per sample interval, 1 of them bad,
and the error budget evaluated at END must equal the direct computation over the 7 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import migrations
from app.cli import cli
from app.clock import ManualClock
from app.collectors.backfill import BackfillReport, backfill_prometheus
from app.config import Settings, get_settings
from app.db import create_session_factory
from app.errors import ConflictError
from app.evaluation import service as evaluation_service
from app.evaluation.models import SloStatus
from app.measurements import repository as measurements_repository
from app.measurements.models import SloMinuteCount
from app.slos.models import Slo
from app.systems.models import Phase
from tests import prometheus_support
from tests.conftest import create_scratch_database
from tests.factories import create_collected_slo, create_system

END = datetime(2025, 11, 1, 0, 0, tzinfo=UTC)
PERIOD = timedelta(days=7)
START = END - PERIOD
SAMPLE_SECONDS = 60
INTERVALS = int(PERIOD.total_seconds()) // SAMPLE_SECONDS  # samples at both ends: INTERVALS + 1
GOOD_PER_SAMPLE, BAD_PER_SAMPLE = 59, 1
OBJECTIVE = 0.95

GOOD = 'sum(increase(api_requests_total{code!~"5.."}[{{.window}}]))'
TOTAL = "sum(increase(api_requests_total[{{.window}}]))"


def _openmetrics() -> str:
    start = int(START.timestamp())
    lines = ["# TYPE api_requests counter", "# HELP api_requests Requests served."]
    for code, first, per_sample in (("200", 5000, GOOD_PER_SAMPLE), ("500", 20, BAD_PER_SAMPLE)):
        for k in range(INTERVALS + 1):
            lines.append(
                f'api_requests_total{{code="{code}"}} {first + per_sample * k} {start + SAMPLE_SECONDS * k}'
            )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


# Computed from the generated data: every sample interval adds GOOD_PER_SAMPLE + BAD_PER_SAMPLE.
EXPECTED_BAD = BAD_PER_SAMPLE * INTERVALS
EXPECTED_TOTAL = (GOOD_PER_SAMPLE + BAD_PER_SAMPLE) * INTERVALS


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = prometheus_support.backfill(
        tmp_path_factory.mktemp("prometheus-backfill"), _openmetrics(), max_block_duration="24h"
    )
    with prometheus_support.serving(data) as url:
        yield url


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _prometheus_slo(db_session: Session, clock: ManualClock) -> Slo:
    system = create_system(db_session, clock)
    slo = create_collected_slo(
        db_session,
        clock,
        system,
        "requests",
        objective=OBJECTIVE,
        period=PERIOD,
        source="prometheus",
        block={"good": GOOD, "total": TOTAL},
        collect_every="5m",
    )
    db_session.flush()
    return slo


def test_seven_days_backfilled_give_the_directly_computed_budget(
    prometheus_url: str, http_client: httpx.Client, db_session: Session, settings: Settings
) -> None:
    clock = ManualClock(END)
    slo = _prometheus_slo(db_session, clock)

    report = backfill_prometheus(
        db_session=db_session, http_client=http_client, base_url=prometheus_url, slo=slo, start=START, end=END
    )

    steps = PERIOD // timedelta(minutes=5)
    assert report == BackfillReport(
        points=steps, minutes_written=steps, good=EXPECTED_TOTAL - EXPECTED_BAD, total=EXPECTED_TOTAL
    )
    assert (EXPECTED_TOTAL, EXPECTED_BAD) == (604_800, 10_080)
    stored = db_session.execute(
        select(func.count(), func.min(SloMinuteCount.minute), func.max(SloMinuteCount.minute)).where(
            SloMinuteCount.slo_id == slo.id
        )
    ).one()
    assert tuple(stored) == (steps, START, END - timedelta(minutes=5))
    counts = measurements_repository.window_counts(db_session=db_session, slo_id=slo.id, start=START, end=END)
    assert (counts.good, counts.total) == (EXPECTED_TOTAL - EXPECTED_BAD, EXPECTED_TOTAL)

    evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=settings)

    status = db_session.get(SloStatus, slo.id)
    assert status is not None
    assert (status.good_events, status.total_events) == (EXPECTED_TOTAL - EXPECTED_BAD, EXPECTED_TOTAL)
    direct = 1 - EXPECTED_BAD / ((1 - OBJECTIVE) * EXPECTED_TOTAL)
    assert status.error_budget_remaining == pytest.approx(direct, rel=1e-12)
    assert status.error_budget_remaining == pytest.approx(2 / 3, rel=1e-12)


def test_a_backfill_over_existing_counts_is_refused(db_session: Session) -> None:
    clock = ManualClock(END)
    slo = _prometheus_slo(db_session, clock)
    measurements_repository.add_minute_counts(
        db_session=db_session, rows=[(slo.id, END - timedelta(hours=1), 5, 6)]
    )

    # Refused before Prometheus is asked: this URL answers nothing.
    with httpx.Client() as client, pytest.raises(ConflictError, match="already has counts") as raised:
        backfill_prometheus(
            db_session=db_session,
            http_client=client,
            base_url=f"http://127.0.0.1:{prometheus_support.free_port()}",
            slo=slo,
            start=START,
            end=END,
        )

    assert raised.value.field == "from"
    total = db_session.execute(
        select(func.sum(SloMinuteCount.total)).where(SloMinuteCount.slo_id == slo.id)
    ).scalar_one()
    assert total == 6


def test_counts_outside_the_range_do_not_block_it(
    prometheus_url: str, http_client: httpx.Client, db_session: Session
) -> None:
    clock = ManualClock(END)
    slo = _prometheus_slo(db_session, clock)
    measurements_repository.add_minute_counts(db_session=db_session, rows=[(slo.id, END, 5, 6)])

    report = backfill_prometheus(
        db_session=db_session,
        http_client=http_client,
        base_url=prometheus_url,
        slo=slo,
        start=END - timedelta(hours=1),
        end=END,
        step=timedelta(minutes=15),
    )

    assert report == BackfillReport(points=4, minutes_written=4, good=59 * 60, total=60 * 60)


@pytest.mark.parametrize("step", [timedelta(seconds=90), timedelta(seconds=30), timedelta(0)])
def test_a_step_of_no_whole_minutes_is_refused(db_session: Session, step: timedelta) -> None:
    clock = ManualClock(END)
    slo = _prometheus_slo(db_session, clock)
    with httpx.Client() as client, pytest.raises(ValueError, match="whole number of minutes"):
        backfill_prometheus(
            db_session=db_session,
            http_client=client,
            base_url=f"http://127.0.0.1:{prometheus_support.free_port()}",
            slo=slo,
            start=START,
            end=END,
            step=step,
        )


def test_the_backfill_command_fills_an_slo_from_prometheus(
    prometheus_url: str, postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = create_scratch_database(postgres_admin_url, "mlslo_backfill_cli")
    engine = create_engine(url)
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    with session_factory() as db_session:
        system = create_system(db_session, ManualClock(END), phase=Phase.TECHNICAL_VALIDATION)
        slo = create_collected_slo(
            db_session,
            ManualClock(END),
            system,
            "api-availability",
            period=PERIOD,
            source="prometheus",
            block={"good": GOOD, "total": TOTAL},
            collect_every="5m",
        )
        db_session.commit()
        slo_id = slo.id
    monkeypatch.setenv("MLSLO_DATABASE_URL", url)
    monkeypatch.setenv("MLSLO_PROMETHEUS_URL", prometheus_url)
    get_settings.cache_clear()
    try:
        arguments = [
            "backfill",
            "recommender",
            "api-availability",
            "--from",
            START.isoformat(),
            "--to",
            END.isoformat(),
        ]
        result = CliRunner().invoke(cli, arguments)
        again = CliRunner().invoke(cli, arguments)
        missing = CliRunner().invoke(
            cli, ["backfill", "recommender", "nope", "--from", START.isoformat(), "--to", END.isoformat()]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"{EXPECTED_TOTAL - EXPECTED_BAD} good of {EXPECTED_TOTAL} events" in result.output
    # History already filled: refused, nothing written twice.
    assert again.exit_code == 1
    assert missing.exit_code == 1
    with session_factory() as db_session:
        total = db_session.scalar(
            select(func.sum(SloMinuteCount.total)).where(SloMinuteCount.slo_id == slo_id)
        )
    assert total == EXPECTED_TOTAL
    engine.dispose()
