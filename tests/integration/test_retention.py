"""Monthly partitions of the measurement levels: made ahead and on arrival, dropped after retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.errors import InvalidInputError
from app.measurements import repository, service
from app.measurements.repository import DAY_LEVEL, HOUR_LEVEL, LEVELS, MINUTE_LEVEL
from tests.factories import create_slo, create_system

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _month(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _rows_in(db_session: Session, relation: str) -> int:
    return int(db_session.execute(text(f"SELECT count(*) FROM {relation}")).scalar_one())


def test_partitions_are_made_for_the_coming_months_and_for_data_that_arrived(
    db_session: Session, clock: ManualClock
) -> None:
    clock.set(NOW)
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    # A backfill into a month without a partition lands in the default partition.
    backfilled = datetime(2025, 10, 14, 8, 31, tzinfo=UTC)
    repository.add_minute_counts(
        db_session=db_session, rows=[(slo.id, backfilled, 3, 4), (slo.id, NOW - timedelta(minutes=1), 1, 1)]
    )

    report = service.maintain_partitions(db_session=db_session, clock=clock, retention=timedelta(days=400))

    for level in LEVELS:
        months = repository.month_partitions(db_session=db_session, level=level)
        assert {_month(2025, 10), _month(2026, 1), _month(2026, 2), _month(2026, 3)} <= set(months)
        assert _rows_in(db_session, repository.default_partition(level)) == 0
    assert "slo_minute_count_p202510" in report.created
    # The rows moved, and the counts read the same through the parent tables.
    assert _rows_in(db_session, "measurement_partition.slo_minute_count_p202510") == 1
    assert repository.window_counts(
        db_session=db_session, slo_id=slo.id, start=backfilled - timedelta(days=1), end=NOW
    ) == repository.window_counts(db_session=db_session, slo_id=slo.id, start=backfilled, end=NOW)
    counts = repository.window_counts(
        db_session=db_session, slo_id=slo.id, start=backfilled - timedelta(days=1), end=NOW
    )
    assert (counts.good, counts.total) == (4, 5)

    # A second run has nothing to do; a month later, one more month ahead appears.
    again = service.maintain_partitions(db_session=db_session, clock=clock, retention=timedelta(days=400))
    assert again.created == []
    clock.set(datetime(2026, 2, 1, 0, 0, tzinfo=UTC))
    later = service.maintain_partitions(db_session=db_session, clock=clock, retention=timedelta(days=400))
    assert later.created == [f"{level.table}_p202604" for level in (MINUTE_LEVEL, HOUR_LEVEL, DAY_LEVEL)]


def test_retention_drops_old_months_and_keeps_recent_data(db_session: Session, clock: ManualClock) -> None:
    clock.set(NOW)
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    old = datetime(2025, 9, 30, 23, 59, tzinfo=UTC)
    kept = datetime(2025, 11, 2, 0, 0, tzinfo=UTC)
    recent = NOW - timedelta(minutes=5)
    repository.add_minute_counts(
        db_session=db_session, rows=[(slo.id, old, 1, 1), (slo.id, kept, 2, 2), (slo.id, recent, 3, 3)]
    )
    service.maintain_partitions(db_session=db_session, clock=clock, retention=timedelta(days=400))
    # An old row that reached a default partition after its month was gone is removed too.
    repository.add_minute_counts(
        db_session=db_session, rows=[(slo.id, datetime(2024, 2, 1, tzinfo=UTC), 1, 1)]
    )

    # 60 days before 2026-01-05 is in November 2025: months before November go, whole.
    report = service.maintain_partitions(db_session=db_session, clock=clock, retention=timedelta(days=60))

    assert report.dropped == [f"{level.table}_p202509" for level in (MINUTE_LEVEL, HOUR_LEVEL, DAY_LEVEL)]
    assert report.default_rows_deleted == 3
    for level in LEVELS:
        months = repository.month_partitions(db_session=db_session, level=level)
        assert min(months) == _month(2025, 11)
    everything = repository.window_counts(
        db_session=db_session, slo_id=slo.id, start=datetime(2020, 1, 1, tzinfo=UTC), end=NOW
    )
    assert (everything.good, everything.total) == (5, 5)
    minutes = db_session.execute(text("SELECT minute FROM slo_minute_count ORDER BY minute")).scalars().all()
    assert minutes == [kept, recent]


def test_retention_shorter_than_a_day_is_refused(db_session: Session, clock: ManualClock) -> None:
    with pytest.raises(InvalidInputError):
        service.maintain_partitions(db_session=db_session, clock=clock, retention=timedelta(hours=1))
