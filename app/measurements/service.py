"""Ingesting request events: each event is classified for every request SLO in force and folded
into per-minute good/total counts; raw events are not kept. Also the upkeep of the monthly
partitions those counts live in."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import compress

from sqlalchemy.orm import Session

from app.clock import Clock
from app.core.request_sli import RequestSliKind
from app.core.sli_catalog import Source
from app.errors import InvalidInputError
from app.measurements import repository
from app.measurements.schemas import IngestResult, RequestEventBatch, RequestEventColumns
from app.slos import repository as slos_repository
from app.systems.models import System

# Events stamped further ahead than this are refused: a skewed client clock would otherwise
# write counts into minutes no evaluation has reached yet.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def minute_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


_MINUTE_SECONDS = 60


def ingest_request_events(
    *, db_session: Session, clock: Clock, system: System, batch: RequestEventBatch | RequestEventColumns
) -> IngestResult:
    events = batch if isinstance(batch, RequestEventColumns) else RequestEventColumns.from_batch(batch)
    times = events.time
    latest_allowed = clock.now() + MAX_CLOCK_SKEW
    latest = max(times)
    if latest > latest_allowed:
        index = next(i for i, moment in enumerate(times) if moment > latest_allowed)
        raise InvalidInputError(
            f"event time {times[index].isoformat()} is more than {MAX_CLOCK_SKEW} in the future",
            field=f"events.{index}.time",
        )
    request_slos = [
        slo
        for slo, _ in slos_repository.list_in_force(db_session=db_session, system_id=system.id)
        if slo.source == Source.PUSH and slo.sli_kind in set(RequestSliKind)
    ]
    # Whole columns at a time, counted by collections.Counter in C: a Python loop per event and
    # SLO was the bottleneck of ingestion.
    minutes = [int(moment.timestamp()) // _MINUTE_SECONDS for moment in times]
    totals = Counter(minutes)
    good_by_rule: dict[tuple[RequestSliKind, float | None], Counter[int]] = {}
    rows: list[tuple[int, datetime, int, int]] = []
    for slo in request_slos:
        kind = RequestSliKind(slo.sli_kind)
        rule = (kind, slo.threshold_ms)
        if rule not in good_by_rule:
            good_by_rule[rule] = Counter(compress(minutes, _good_flags(kind, events, slo.threshold_ms)))
        good = good_by_rule[rule]
        rows.extend(
            (slo.id, _minute_datetime(minute), good[minute], total) for minute, total in totals.items()
        )
    repository.add_minute_counts(db_session=db_session, rows=rows)
    return IngestResult(
        accepted_events=len(times),
        slos_updated=[slo.name for slo in request_slos],
        minutes_updated=len(rows),
        earliest=min(times),
        latest=latest,
    )


def _good_flags(kind: RequestSliKind, events: RequestEventColumns, threshold_ms: float | None) -> list[bool]:
    """`request_is_good` for every event: the same rule, applied to whole columns."""
    if kind is RequestSliKind.LATENCY:
        if threshold_ms is None:
            raise ValueError("a latency SLI needs a threshold")
        return [latency <= threshold_ms for latency in events.latency_ms]
    return [outcome == "success" for outcome in events.outcome]


def _minute_datetime(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * _MINUTE_SECONDS, tz=UTC)


# Partitions exist this many months ahead, so ingestion normally never writes to a default partition.
PARTITION_MONTHS_AHEAD = 2
# Longer than the longest SLO period (a quarter) and a year-over-year look back.
DEFAULT_RETENTION = timedelta(days=400)


@dataclass
class PartitionReport:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    default_rows_deleted: int = 0
    samples_deleted: int = 0


def maintain_partitions(*, db_session: Session, clock: Clock, retention: timedelta) -> PartitionReport:
    """Create the monthly partitions of the coming months and of any month that reached a default
    partition; drop the months that ended before `now - retention` (whole months are kept)."""
    if retention < timedelta(days=1):
        raise InvalidInputError("retention must be at least one day", field="retention")
    report = PartitionReport()
    now = clock.now()
    cutoff = repository.month_start(now - retention)
    ahead = [repository.month_start(now)]
    for _ in range(PARTITION_MONTHS_AHEAD):
        ahead.append(repository.next_month(ahead[-1]))
    # Minute level first, as ingestion locks it first: the same order cannot deadlock.
    for level in (repository.MINUTE_LEVEL, repository.HOUR_LEVEL, repository.DAY_LEVEL):
        existing = set(repository.month_partitions(db_session=db_session, level=level))
        report.default_rows_deleted += repository.delete_default_rows_before(
            db_session=db_session, level=level, cutoff=cutoff
        )
        arrived = repository.months_in_default_partition(db_session=db_session, level=level)
        for month in sorted({*ahead, *arrived} - existing):
            if month >= cutoff:
                repository.create_month_partition(db_session=db_session, level=level, month=month)
                report.created.append(repository.partition_name(level, month))
        for month in sorted(existing):
            if repository.next_month(month) <= cutoff:
                repository.drop_month_partition(db_session=db_session, level=level, month=month)
                report.dropped.append(repository.partition_name(level, month))
    # Readings of value and ratio SLIs follow the same cutoff as the counts.
    report.samples_deleted = repository.delete_samples_before(db_session=db_session, cutoff=cutoff)
    return report
