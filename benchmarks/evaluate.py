"""Benchmark of a full evaluation pass against history length, on a real Postgres.

Run: .venv/bin/python benchmarks/evaluate.py --slos 1000 --days 28   (prints one JSON object)

Seeds N SLOs with per-minute counts in the real schema (monthly partitions, hour and day rollups),
first the most recent 7 days, then the rest of D days, and times, warm, as the median of several
runs:
- `pass_seconds`: `app.measurements.repository.counts_for_windows` for every SLO over every alert
  window (5m 30m 1h 2h 6h 1d 3d) plus the budget window, with D days of history;
- `pass_seconds_7d`: the same pass while only 7 days of history were stored;
- `naive_pass_seconds`: the obvious implementation (one SUM over the minute rows of each window,
  the query this project used before the rollups) on the D-day data;
- `evaluate_all_seconds`: the real `evaluate_all` (status, decisions) in a rolled-back transaction.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, literal, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from support import bench_database

from app import migrations
from app.clock import ManualClock
from app.config import Settings
from app.core.evaluation import windows_needed
from app.db import create_session_factory, transaction
from app.evaluation import service as evaluation_service
from app.measurements import repository
from app.measurements.models import SloMinuteCount
from app.slos.models import Slo
from app.systems import service as systems_service
from app.systems.models import Phase
from app.systems.schemas import SystemCreate

# Not on a minute boundary, as in production.
NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
RECENT_DAYS = 7
SEED_CHUNK_SLOS = 50


def _time(function: Callable[[], object], repeats: int) -> float:
    function()  # warm
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _naive_counts(db_session: Session, slo_ids: list[int], windows: tuple[timedelta, ...]) -> int:
    """One scan of every minute of the longest window, a filtered SUM per window."""
    from sqlalchemy import func

    columns = []
    for window in windows:
        in_window = SloMinuteCount.minute >= literal(NOW - window)
        columns.append(func.coalesce(func.sum(SloMinuteCount.good).filter(in_window), 0))
        columns.append(func.coalesce(func.sum(SloMinuteCount.total).filter(in_window), 0))
    rows = db_session.execute(
        select(SloMinuteCount.slo_id, *columns)
        .where(SloMinuteCount.slo_id.in_(slo_ids))
        .where(SloMinuteCount.minute >= NOW - max(windows))
        .where(SloMinuteCount.minute < NOW)
        .group_by(SloMinuteCount.slo_id)
    ).all()
    return len(rows)


def _seed(engine: Engine, slo_ids: list[int], start: datetime, end: datetime) -> int:
    """Minutes in [start, end) for every SLO, bulk-written with the rollup triggers off; the rollups
    of those minutes are then built in one pass (seeding, not the path measured)."""
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for index in range(0, len(slo_ids), SEED_CHUNK_SLOS):
            connection.execute(
                text(
                    "INSERT INTO slo_minute_count (slo_id, minute, good, total) "
                    "SELECT s, m, 100 - (extract(epoch from m)::bigint % 97 = 0)::int, 100 "
                    "FROM unnest(CAST(:ids AS int[])) AS s, generate_series(CAST(:start AS timestamptz), "
                    "CAST(:end AS timestamptz) - interval '1 minute', interval '1 minute') AS m "
                    "ORDER BY s, m"
                ),
                {"ids": slo_ids[index : index + SEED_CHUNK_SLOS], "start": start, "end": end},
            )
        for level in (repository.HOUR_LEVEL, repository.DAY_LEVEL):
            connection.execute(
                text(
                    f"INSERT INTO {level.table} AS target (slo_id, {level.column}, good, total) "
                    f"SELECT slo_id, date_trunc('{level.column}', minute, 'UTC'), sum(good), sum(total) "
                    f"FROM slo_minute_count WHERE minute >= :start AND minute < :end GROUP BY 1, 2 "
                    f"ON CONFLICT (slo_id, {level.column}) DO UPDATE "
                    f"SET good = target.good + excluded.good, total = target.total + excluded.total"
                ),
                {"start": start, "end": end},
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE slo_minute_count, slo_hour_count, slo_day_count"))
    return len(slo_ids) * int((end - start) / timedelta(minutes=1))


def _make_slo(system_id: int, index: int, period: timedelta) -> Slo:
    return Slo(
        system_id=system_id,
        phase="production",
        name=f"slo-{index}",
        description="",
        sli_kind="error_rate",
        threshold_ms=None,
        objective=0.999,
        period=period,
        min_events=None,
        definition={},
        source_path="bench",
        created_at=NOW - timedelta(days=400),
        updated_at=NOW - timedelta(days=400),
    )


def run(engine: Engine, slos: int, days: int, period: timedelta, repeats: int) -> dict[str, Any]:
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    clock = ManualClock(NOW)
    settings = Settings(database_url=None, data_dir=Path(tempfile.gettempdir()))
    history_start = NOW.replace(second=0) - timedelta(days=days)
    recent_start = NOW.replace(second=0) - timedelta(days=min(days, RECENT_DAYS))

    with transaction(session_factory) as db_session:
        system = systems_service.register(
            db_session=db_session,
            clock=clock,
            system_in=SystemCreate(name="bench", phase=Phase.PRODUCTION),
            registered_by="bench",
        )
        created = [_make_slo(system.id, i, period) for i in range(slos)]
        db_session.add_all(created)
        db_session.flush()
        slo_ids = [slo.id for slo in created]
        # The months of the history get their partitions before any row arrives.
        month = repository.month_start(min(history_start, NOW - period))
        while month <= NOW:
            for level in (repository.MINUTE_LEVEL, repository.HOUR_LEVEL, repository.DAY_LEVEL):
                repository.create_month_partition(db_session=db_session, level=level, month=month)
            month = repository.next_month(month)

    windows = windows_needed(period)

    def storage_pass() -> None:
        with session_factory() as db_session:
            counts = repository.counts_for_windows(
                db_session=db_session, slo_ids=slo_ids, windows=windows, now=NOW
            )
            assert len(counts) == slos

    def naive_pass() -> None:
        with session_factory() as db_session:
            _naive_counts(db_session, slo_ids, windows)

    def evaluate_pass() -> None:
        with session_factory() as db_session:
            report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=settings)
            assert report.slos_evaluated == slos
            db_session.rollback()

    started = time.perf_counter()
    rows = _seed(engine, slo_ids, recent_start, NOW.replace(second=0))
    pass_7d = _time(storage_pass, repeats)
    naive_7d = _time(naive_pass, repeats)
    if history_start < recent_start:
        rows += _seed(engine, slo_ids, history_start, recent_start)
    seed_seconds = time.perf_counter() - started

    pass_full = _time(storage_pass, repeats)
    naive_full = _time(naive_pass, repeats)
    evaluate_all = _time(evaluate_pass, repeats)

    with session_factory() as db_session:
        sizes = {
            level.table: db_session.execute(
                text(f"SELECT pg_total_relation_size(relid) FROM pg_partition_tree('{level.table}')")
            )
            .scalars()
            .all()
            for level in (repository.MINUTE_LEVEL, repository.HOUR_LEVEL, repository.DAY_LEVEL)
        }
    return {
        "benchmark": "evaluate",
        "timed": "repository.counts_for_windows over every SLO (evaluate_all reported separately)",
        "slos": slos,
        "days": days,
        "period_days": period / timedelta(days=1),
        "windows": len(windows),
        "minute_rows": rows,
        "pass_seconds": round(pass_full, 4),
        "pass_seconds_7d": round(pass_7d, 4),
        "history_cost_ratio": round(pass_full / pass_7d, 3),
        "naive_pass_seconds": round(naive_full, 4),
        "naive_pass_seconds_7d": round(naive_7d, 4),
        "speedup_vs_naive": round(naive_full / pass_full, 1),
        "evaluate_all_seconds": round(evaluate_all, 4),
        "storage_bytes": {table: int(sum(parts)) for table, parts in sizes.items()},
        "seed_seconds": round(seed_seconds, 1),
        "repeats_median_of": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--period-days", type=int, default=28, help="the SLO period (budget window)")
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()

    with bench_database() as url:
        engine = create_engine(url)
        try:
            results = run(
                engine,
                slos=arguments.slos,
                days=arguments.days,
                period=timedelta(days=arguments.period_days),
                repeats=arguments.repeats,
            )
        finally:
            engine.dispose()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
