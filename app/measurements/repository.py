"""Queries on per-minute SLI counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.core.windows import WindowCounts
from app.measurements.models import SloMinuteCount


def add_minute_counts(*, db_session: Session, rows: Iterable[tuple[int, datetime, int, int]]) -> int:
    """Add (slo_id, minute, good, total) to the stored counts, creating minutes as needed."""
    # Sorted so that concurrent batches lock rows in the same order and cannot deadlock.
    values = [{"slo_id": s, "minute": m, "good": g, "total": t} for s, m, g, t in sorted(rows)]
    if not values:
        return 0
    statement = insert(SloMinuteCount)
    statement = statement.on_conflict_do_update(
        index_elements=[SloMinuteCount.slo_id, SloMinuteCount.minute],
        set_={
            "good": SloMinuteCount.good + statement.excluded.good,
            "total": SloMinuteCount.total + statement.excluded.total,
        },
    )
    # A parameter list runs as batched multi-row inserts (insertmanyvalues) instead of one
    # statement compiled with every row in it.
    db_session.execute(statement, values)
    return len(values)


def window_counts(*, db_session: Session, slo_id: int, start: datetime, end: datetime) -> WindowCounts:
    """Counts of the minutes whose start lies in [start, end)."""
    good, total = db_session.execute(
        select(
            func.coalesce(func.sum(SloMinuteCount.good), 0), func.coalesce(func.sum(SloMinuteCount.total), 0)
        )
        .where(SloMinuteCount.slo_id == slo_id)
        .where(SloMinuteCount.minute >= start)
        .where(SloMinuteCount.minute < end)
    ).one()
    return WindowCounts(good=int(good), total=int(total))


def counts_for_windows(
    *, db_session: Session, slo_ids: Sequence[int], windows: Sequence[timedelta], now: datetime
) -> dict[int, dict[timedelta, WindowCounts]]:
    """For each SLO, the counts over every window ending at `now`, in one scan per SLO set.

    A window W holds the minutes whose start lies in [now - W, now).
    """
    if not slo_ids:
        return {}
    longest = max(windows)
    columns = []
    for index, window in enumerate(windows):
        in_window = SloMinuteCount.minute >= literal(now - window)
        columns.append(
            func.coalesce(func.sum(SloMinuteCount.good).filter(in_window), 0).label(f"good_{index}")
        )
        columns.append(
            func.coalesce(func.sum(SloMinuteCount.total).filter(in_window), 0).label(f"total_{index}")
        )
    rows = db_session.execute(
        select(SloMinuteCount.slo_id, *columns)
        .where(SloMinuteCount.slo_id.in_(slo_ids))
        .where(SloMinuteCount.minute >= now - longest)
        .where(SloMinuteCount.minute < now)
        .group_by(SloMinuteCount.slo_id)
    ).all()
    empty = {window: WindowCounts(0, 0) for window in windows}
    result: dict[int, dict[timedelta, WindowCounts]] = {slo_id: dict(empty) for slo_id in slo_ids}
    for row in rows:
        result[row.slo_id] = {
            window: WindowCounts(good=int(row[1 + 2 * i]), total=int(row[2 + 2 * i]))
            for i, window in enumerate(windows)
        }
    return result
