"""SLOs budgeted from their minutes: time slices, calendar windows and exclusions, end to end
through the evaluation on real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.config import Settings
from app.evaluation import service as evaluation_service
from app.evaluation.models import SloStatus
from app.measurements import repository as measurements_repository
from tests.factories import create_slo, create_system


@pytest.fixture
def alerting_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"slack_webhook_url": SecretStr("http://127.0.0.1:9/hook")})


def _status(db_session: Session, slo_id: int) -> SloStatus:
    db_session.expire_all()
    status = db_session.get(SloStatus, slo_id)
    assert status is not None
    return status


def test_timeslices_count_good_hours(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system, objective=0.9, period=timedelta(days=1))
    slo.budgeting_method = "timeslices"
    slo.time_slice_window = timedelta(hours=1)
    slo.time_slice_target = 0.99
    db_session.flush()
    # 24 hourly slices of 100 requests; two hours had 10% errors.
    day_start = clock.now() - timedelta(days=1)
    rows = []
    for hour in range(24):
        bad = 10 if hour in (3, 17) else 0
        rows.append((slo.id, day_start + timedelta(hours=hour), 100 - bad, 100))
    measurements_repository.add_minute_counts(db_session=db_session, rows=rows)

    evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)

    status = _status(db_session, slo.id)
    assert (status.good_events, status.total_events) == (22, 24)  # slices, not events
    assert status.sli == pytest.approx(22 / 24)
    assert status.error_budget_remaining == pytest.approx(1 - 2 / (0.1 * 24))


def test_a_calendar_month_counts_only_this_month(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system, objective=0.99, period=timedelta(days=30))
    slo.calendar_unit = "month"
    slo.time_zone = "UTC"
    db_session.flush()
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=[
            (slo.id, datetime(2025, 12, 31, 23, 0, tzinfo=UTC), 0, 500),  # December: another month
            (slo.id, datetime(2026, 1, 2, 8, 0, tzinfo=UTC), 990, 1000),
        ],
    )

    evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)

    status = _status(db_session, slo.id)
    assert (status.good_events, status.total_events) == (990, 1000)
    assert status.error_budget_remaining == pytest.approx(0.0)


def test_a_calendar_day_in_a_time_zone_starts_at_local_midnight(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system, objective=0.99, period=timedelta(days=1))
    slo.calendar_unit = "day"
    slo.time_zone = "Asia/Tokyo"  # now is 21:00 in Tokyo; the day began at 15:00 UTC the day before
    db_session.flush()
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=[
            (slo.id, datetime(2026, 1, 4, 14, 59, tzinfo=UTC), 0, 100),  # 23:59 Tokyo, the day before
            (slo.id, datetime(2026, 1, 4, 15, 0, tzinfo=UTC), 100, 100),  # 00:00 Tokyo
        ],
    )

    evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)

    assert _status(db_session, slo.id).total_events == 100


def test_excluded_maintenance_does_not_count(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system, objective=0.99, period=timedelta(days=7))
    slo.definition = {
        "exclusions": [
            {
                "reason": "nightly retrain",
                "start": "2026-01-01T02:00:00+00:00",
                "duration": "1h",
                "rrule": "FREQ=DAILY",
            }
        ]
    }
    db_session.flush()
    yesterday = clock.now() - timedelta(days=1)
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=[
            (slo.id, yesterday.replace(hour=2, minute=30), 0, 1000),  # inside the retrain window
            (slo.id, yesterday.replace(hour=3, minute=0), 999, 1000),  # just after it
        ],
    )

    report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)

    status = _status(db_session, slo.id)
    assert (status.good_events, status.total_events) == (999, 1000)
    assert report.breaches_opened == []
