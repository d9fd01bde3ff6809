"""Queries on SLI counts: minute writes, window sums from the minute/hour/day levels, and the
monthly partitions of the three levels."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.core.budgeting import MinuteCounts
from app.core.sample_budgeting import Sample
from app.core.windows import WindowCounts
from app.measurements.models import PARTITION_SCHEMA, SliSample, SloDayCount, SloHourCount, SloMinuteCount

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CountLevel:
    """One level of the count hierarchy: its table, time column and span of one row."""

    table: str
    column: str
    unit: timedelta


MINUTE_LEVEL = CountLevel(SloMinuteCount.__tablename__, "minute", MINUTE)
HOUR_LEVEL = CountLevel(SloHourCount.__tablename__, "hour", HOUR)
DAY_LEVEL = CountLevel(SloDayCount.__tablename__, "day", DAY)
# Coarsest first; a window is covered by whole days, then whole hours, then minutes at its edges.
LEVELS = (DAY_LEVEL, HOUR_LEVEL, MINUTE_LEVEL)


def add_minute_counts(*, db_session: Session, rows: Iterable[tuple[int, datetime, int, int]]) -> int:
    """Add (slo_id, minute, good, total) to the stored counts, creating minutes as needed.

    Triggers on the minute table add the same amounts to the hour and day rollups."""
    # One statement for the whole batch: the rollup triggers then run once, over all its rows,
    # instead of once per row. Duplicate minutes are added up first (an upsert may touch a row once).
    merged: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])
    for slo_id, minute, good, total in rows:
        cell = merged[(slo_id, minute)]
        cell[0] += good
        cell[1] += total
    if not merged:
        return 0
    # Sorted so that concurrent batches lock rows in the same order and cannot deadlock.
    keys = sorted(merged)
    db_session.execute(
        text(
            "INSERT INTO slo_minute_count AS target (slo_id, minute, good, total) "
            "SELECT * FROM unnest(CAST(:slo_ids AS int[]), CAST(:minutes AS timestamptz[]), "
            "CAST(:goods AS bigint[]), CAST(:totals AS bigint[])) "
            "ON CONFLICT (slo_id, minute) DO UPDATE "
            "SET good = target.good + excluded.good, total = target.total + excluded.total"
        ),
        {
            "slo_ids": [slo_id for slo_id, _ in keys],
            "minutes": [minute for _, minute in keys],
            "goods": [merged[key][0] for key in keys],
            "totals": [merged[key][1] for key in keys],
        },
    )
    return len(keys)


def _floor(moment: datetime, unit: timedelta) -> datetime:
    return moment - (moment - _EPOCH) % unit


def _ceil(moment: datetime, unit: timedelta) -> datetime:
    floor = _floor(moment, unit)
    return floor if floor == moment else floor + unit


Segment = tuple[int, CountLevel, datetime, datetime]


def window_segments(start: datetime, end: datetime) -> list[Segment]:
    """[start, end) as signed aligned stretches (sign, level, lo, hi) whose signed sum is exactly the
    window: whole days in the middle, and at each edge whichever is fewer rows, the finer rows of the
    edge itself or the enclosing coarser row minus the finer rows outside the window. So an edge
    reads at most 30 minutes and 12 hours, however long the window.

    The minutes of a window are those whose start lies in [start, end), hence the ceilings."""
    return _split(_ceil(start, MINUTE), _ceil(end, MINUTE), LEVELS, 1)


def rows_read(segments: Iterable[Segment]) -> int:
    return sum((hi - lo) // level.unit for _, level, lo, hi in segments)


def _split(start: datetime, end: datetime, levels: Sequence[CountLevel], sign: int) -> list[Segment]:
    if start >= end:
        return []
    level, finer = levels[0], levels[1:]
    if not finer:
        return [(sign, level, start, end)]
    unit = level.unit
    inner_start, inner_end = _ceil(start, unit), _floor(end, unit)
    if inner_start > inner_end:
        # Both ends inside one coarse row: its finer rows, or the row minus what lies outside.
        whole_start = _floor(start, unit)
        around = [
            (sign, level, whole_start, whole_start + unit),
            *_split(whole_start, start, finer, -sign),
            *_split(end, whole_start + unit, finer, -sign),
        ]
        return min(_split(start, end, finer, sign), around, key=rows_read)
    segments: list[Segment] = []
    if start < inner_start:
        around = [
            (sign, level, inner_start - unit, inner_start),
            *_split(inner_start - unit, start, finer, -sign),
        ]
        segments += min(_split(start, inner_start, finer, sign), around, key=rows_read)
    if inner_start < inner_end:
        segments.append((sign, level, inner_start, inner_end))
    if inner_end < end:
        around = [(sign, level, inner_end, inner_end + unit), *_split(end, inner_end + unit, finer, -sign)]
        segments += min(_split(inner_end, end, finer, sign), around, key=rows_read)
    return segments


def _sum_ranges(
    db_session: Session, slo_ids: Sequence[int], ranges: Sequence[tuple[int, Segment]]
) -> dict[tuple[int, int], WindowCounts]:
    """Signed sums of good and total per (slo_id, key) over the given (key, segment) stretches.

    A stretch shared by several keys (the latest minutes and hours, common to every window) is
    read once."""
    segments: dict[tuple[CountLevel, datetime, datetime], int] = {}
    signs: dict[tuple[int, int], int] = defaultdict(int)
    for key, (sign, level, start, end) in ranges:
        segment = segments.setdefault((level, start, end), len(segments))
        signs[(segment, key)] += sign
    segment_keys = [(segment, key, sign) for (segment, key), sign in signs.items() if sign]
    if not segments:
        return {}
    by_level: dict[CountLevel, list[tuple[int, datetime, datetime]]] = defaultdict(list)
    for (level, start, end), segment in segments.items():
        by_level[level].append((segment, start, end))
    parts = []
    parameters: dict[str, object] = {
        "slo_ids": list(slo_ids),
        "map_segments": [segment for segment, _, _ in segment_keys],
        "map_keys": [key for _, key, _ in segment_keys],
        "map_signs": [sign for _, _, sign in segment_keys],
    }
    for index, (level, stretches) in enumerate(by_level.items()):
        parts.append(
            f"SELECT c.slo_id, s.segment, c.good, c.total "
            f"FROM unnest(CAST(:segments_{index} AS int[]), CAST(:starts_{index} AS timestamptz[]), "
            f"CAST(:ends_{index} AS timestamptz[])) AS s(segment, start_at, end_at) "
            f"JOIN {level.table} AS c ON c.slo_id = ANY(CAST(:slo_ids AS int[])) "
            f"AND c.{level.column} >= s.start_at AND c.{level.column} < s.end_at"
        )
        parameters[f"segments_{index}"] = [segment for segment, _, _ in stretches]
        parameters[f"starts_{index}"] = [start for _, start, _ in stretches]
        parameters[f"ends_{index}"] = [end for _, _, end in stretches]
    statement = text(
        "WITH segment_sum AS (SELECT slo_id, segment, sum(good) AS good, sum(total) AS total FROM ("
        + " UNION ALL ".join(parts)
        + ") AS counted GROUP BY slo_id, segment) "
        # bigint, not numeric: numeric arrives as Decimal, slow to convert by the thousand.
        "SELECT segment_sum.slo_id, used.key, sum(segment_sum.good * used.sign)::bigint, "
        "sum(segment_sum.total * used.sign)::bigint "
        "FROM segment_sum JOIN unnest(CAST(:map_segments AS int[]), CAST(:map_keys AS int[]), "
        "CAST(:map_signs AS int[])) AS used(segment, key, sign) ON used.segment = segment_sum.segment "
        "GROUP BY segment_sum.slo_id, used.key"
    )
    return {
        (slo_id, key): WindowCounts(good=good, total=total)
        # fetchall: iterating the result would fetch its thousands of rows one by one.
        for slo_id, key, good, total in db_session.execute(statement, parameters).all()
    }


def window_counts(*, db_session: Session, slo_id: int, start: datetime, end: datetime) -> WindowCounts:
    """Counts of the minutes whose start lies in [start, end)."""
    ranges = [(0, segment) for segment in window_segments(start, end)]
    return _sum_ranges(db_session, [slo_id], ranges).get((slo_id, 0), WindowCounts(0, 0))


def minute_counts(*, db_session: Session, slo_id: int, start: datetime, end: datetime) -> list[MinuteCounts]:
    """The stored minutes whose start lies in [start, end), in time order (for budgeting methods
    that need the minutes themselves: time slices, calendar windows, exclusions)."""
    rows = db_session.execute(
        select(SloMinuteCount.minute, SloMinuteCount.good, SloMinuteCount.total)
        .where(SloMinuteCount.slo_id == slo_id)
        .where(SloMinuteCount.minute >= start)
        .where(SloMinuteCount.minute < end)
        .order_by(SloMinuteCount.minute)
    )
    return [MinuteCounts(minute=minute, good=good, total=total) for minute, good, total in rows]


def put_samples(
    *,
    db_session: Session,
    slo_id: int,
    samples: Iterable[Sample],
    model_version: str = "",
    data_version: str | None = None,
    sample_size: int | None = None,
) -> int:
    """Store readings of a value or ratio SLI; a reading at a time already stored replaces it
    (a reading describes its instant, it does not add up like events). `model_version` '' is the
    SLI as a whole, which the budget reads; a version's own readings split it by model version."""
    rows = [
        {
            "slo_id": slo_id,
            "measured_at": sample.at,
            "model_version": model_version,
            "value": sample.value,
            "data_version": data_version,
            "sample_size": sample_size,
        }
        for sample in samples
    ]
    if not rows:
        return 0
    statement = insert(SliSample).values(rows)
    db_session.execute(
        statement.on_conflict_do_update(
            index_elements=[SliSample.slo_id, SliSample.measured_at, SliSample.model_version],
            set_={
                "value": statement.excluded.value,
                "data_version": statement.excluded.data_version,
                "sample_size": statement.excluded.sample_size,
            },
        )
    )
    return len(rows)


def samples_between(
    *, db_session: Session, slo_id: int, start: datetime, end: datetime, model_version: str = ""
) -> list[Sample]:
    """The readings of an SLO taken in [start, end), in time order: the SLI as a whole by default,
    or one model version's."""
    rows = db_session.execute(
        select(SliSample.measured_at, SliSample.value)
        .where(SliSample.slo_id == slo_id)
        .where(SliSample.model_version == model_version)
        .where(SliSample.measured_at >= start)
        .where(SliSample.measured_at < end)
        .order_by(SliSample.measured_at)
    )
    return [Sample(at=measured_at, value=value) for measured_at, value in rows]


def sample_rows_between(
    *, db_session: Session, slo_id: int, start: datetime, end: datetime
) -> Sequence[SliSample]:
    """Every stored reading in [start, end), all model versions, in time order."""
    return db_session.scalars(
        select(SliSample)
        .where(SliSample.slo_id == slo_id)
        .where(SliSample.measured_at >= start)
        .where(SliSample.measured_at < end)
        .order_by(SliSample.measured_at, SliSample.model_version)
    ).all()


def has_samples_between(*, db_session: Session, slo_id: int, start: datetime, end: datetime) -> bool:
    return bool(
        db_session.scalar(
            select(
                exists().where(
                    SliSample.slo_id == slo_id, SliSample.measured_at >= start, SliSample.measured_at < end
                )
            )
        )
    )


def delete_samples_before(*, db_session: Session, cutoff: datetime) -> int:
    result = db_session.execute(delete(SliSample).where(SliSample.measured_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def first_counted_minute(
    *, db_session: Session, slo_id: int, start: datetime, end: datetime
) -> datetime | None:
    """The earliest minute with counts in [start, end)."""
    first: datetime | None = db_session.scalar(
        select(SloMinuteCount.minute)
        .where(SloMinuteCount.slo_id == slo_id)
        .where(SloMinuteCount.minute >= start)
        .where(SloMinuteCount.minute < end)
        .order_by(SloMinuteCount.minute)
        .limit(1)
    )
    return first


def last_counted_minute(*, db_session: Session, slo_id: int, before: datetime) -> datetime | None:
    """The latest minute with counts before `before` (late-labelled SLIs end their windows there)."""
    last: datetime | None = db_session.scalar(
        select(SloMinuteCount.minute)
        .where(SloMinuteCount.slo_id == slo_id, SloMinuteCount.minute < before)
        .order_by(SloMinuteCount.minute.desc())
        .limit(1)
    )
    return last


def last_sample_time(*, db_session: Session, slo_id: int, before: datetime) -> datetime | None:
    last: datetime | None = db_session.scalar(
        select(SliSample.measured_at)
        .where(SliSample.slo_id == slo_id, SliSample.model_version == "", SliSample.measured_at < before)
        .order_by(SliSample.measured_at.desc())
        .limit(1)
    )
    return last


def counts_for_windows(
    *, db_session: Session, slo_ids: Sequence[int], windows: Sequence[timedelta], now: datetime
) -> dict[int, dict[timedelta, WindowCounts]]:
    """For each SLO, the counts over every window ending at `now`, in one statement.

    A window W holds the minutes whose start lies in [now - W, now). Each window reads whole days,
    then whole hours and at most two edges of minutes, so its cost hardly depends on its length."""
    if not slo_ids:
        return {}
    ranges = [
        (index, segment)
        for index, window in enumerate(windows)
        for segment in window_segments(now - window, now)
    ]
    sums = _sum_ranges(db_session, slo_ids, ranges)
    empty = WindowCounts(0, 0)
    return {
        slo_id: {window: sums.get((slo_id, index), empty) for index, window in enumerate(windows)}
        for slo_id in slo_ids
    }


# Partitions: one per level and UTC month, named <table>_p<YYYYMM> in PARTITION_SCHEMA, plus a
# default partition per level that holds rows of months without a partition yet.


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def partition_name(level: CountLevel, month: datetime) -> str:
    return f"{level.table}_p{month:%Y%m}"


def default_partition(level: CountLevel) -> str:
    return f"{PARTITION_SCHEMA}.{level.table}_default"


def month_partitions(*, db_session: Session, level: CountLevel) -> list[datetime]:
    """The months that have their own partition at this level, in order."""
    names = db_session.scalars(
        text(
            "SELECT child.relname FROM pg_inherits "
            "JOIN pg_class AS child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = CAST(:parent AS regclass) AND child.relname <> :default_name"
        ),
        {"parent": level.table, "default_name": f"{level.table}_default"},
    ).all()
    prefix = f"{level.table}_p"
    return sorted(
        datetime.strptime(name.removeprefix(prefix), "%Y%m").replace(tzinfo=UTC)
        for name in names
        if name.startswith(prefix)
    )


def months_in_default_partition(*, db_session: Session, level: CountLevel) -> list[datetime]:
    months = db_session.scalars(
        text(
            f"SELECT DISTINCT date_trunc('month', {level.column}, 'UTC') "
            f"FROM {default_partition(level)} ORDER BY 1"
        )
    ).all()
    return [month.astimezone(UTC) for month in months]


def create_month_partition(*, db_session: Session, level: CountLevel, month: datetime) -> None:
    """Give `month` its own partition, moving its rows out of the default partition.

    The rows move by a direct DELETE on the default partition, which the rollup triggers on the
    parent table do not see: the counts only change place."""
    name = f"{PARTITION_SCHEMA}.{partition_name(level, month)}"
    bounds = {"start": month, "end": next_month(month)}
    db_session.execute(
        text(f"CREATE TABLE {name} (LIKE {level.table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    )
    db_session.execute(
        text(
            f"WITH moved AS (DELETE FROM {default_partition(level)} "
            f"WHERE {level.column} >= :start AND {level.column} < :end RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        bounds,
    )
    start_literal = month.isoformat()
    end_literal = next_month(month).isoformat()
    db_session.execute(
        text(
            f"ALTER TABLE {level.table} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{start_literal}') TO ('{end_literal}')"
        )
    )


def drop_month_partition(*, db_session: Session, level: CountLevel, month: datetime) -> None:
    db_session.execute(text(f"DROP TABLE {PARTITION_SCHEMA}.{partition_name(level, month)}"))


def delete_default_rows_before(*, db_session: Session, level: CountLevel, cutoff: datetime) -> int:
    """Remove old rows from the default partition directly (bypassing the rollup triggers, as a
    dropped partition does): every level loses the same months."""
    result = db_session.execute(
        text(f"DELETE FROM {default_partition(level)} WHERE {level.column} < :cutoff"), {"cutoff": cutoff}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
