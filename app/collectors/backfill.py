"""Filling an SLO's history from Prometheus (`mlslo backfill SLO --from --to`).

Backfill is for the history from before an SLO existed (or before mlslo collected it): Prometheus
already holds the request counters, so range queries give the good and total events of every step
of the past, and they are stored as if they had been collected then. Pyrra and Sloth cannot do
this (their recording rules only start when they are loaded, prometheus#10202).

It never double counts: a range in which the SLO already has counts (from live collection, pushed
events or an earlier backfill) is refused as a whole, so backfill what came before the first
collected minute. Nothing is committed here; the caller commits (or rolls back) the whole backfill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from app.collectors.prometheus import range_counts, range_values
from app.collectors.service import Reads, collection_interval, reads_of
from app.core.sample_budgeting import Sample
from app.core.sli_catalog import Source
from app.errors import ConflictError, InvalidInputError
from app.measurements import repository as measurements_repository
from app.measurements.service import minute_start
from app.slos.models import Slo

_MINUTE = timedelta(minutes=1)
# Minute rows per INSERT: large enough to be quick, small enough for one statement's arrays.
_WRITE_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class BackfillReport:
    """What a backfill did: `points` steps queried, `minutes_written` minutes stored (steps with
    events), holding `good` of `total` events."""

    points: int
    minutes_written: int
    good: int
    total: int
    # Value and ratio SLIs: readings stored (one per step with data).
    samples_written: int = 0


def backfill_prometheus(
    *,
    db_session: Session,
    http_client: httpx.Client,
    base_url: str,
    slo: Slo,
    start: datetime,
    end: datetime,
    step: timedelta | None = None,
) -> BackfillReport:
    """Store the events of [start, end) that the SLO's `sli.prometheus` queries count, one minute
    row per step (default: the SLO's collection interval), at the minute the step starts.

    Each range-query point at t counts the events of (t - step, t] and is stored at t - step, so
    the stored minutes are those of [start, end) (a last partial step, when end - start is not a
    whole number of steps, is left out). Steps without events store nothing.

    Backfill is for history before the SLO existed: if the SLO already has any counts in
    [start, end) the backfill is refused with a ConflictError (field `from`), since adding to them
    would count the same events twice. Raises ValueError for a step that is not a whole number of
    minutes or for start/end that are naive, not on a whole minute or out of order; InvalidInputError
    for an SLO not collected from Prometheus; CollectionError when Prometheus gives no usable answer.
    Never commits.
    """
    step = collection_interval(slo) if step is None else step
    _check_range(start, end, step)
    if slo.source != Source.PROMETHEUS.value:
        raise InvalidInputError(
            f"SLO {slo.name!r} is collected from {slo.source!r}; only Prometheus SLOs can be backfilled",
            field="source",
        )
    config = (slo.definition.get("sli") or {}).get("prometheus")
    if not isinstance(config, Mapping):
        raise InvalidInputError(
            f"SLO {slo.name!r} has no `sli.prometheus` block to backfill from", field="prometheus"
        )
    reads = reads_of(slo)
    if reads is not Reads.COUNTS:
        return _backfill_readings(db_session, http_client, base_url, slo, config, reads, start, end, step)
    first_existing = measurements_repository.first_counted_minute(
        db_session=db_session, slo_id=slo.id, start=start, end=end
    )
    if first_existing is not None:
        raise ConflictError(
            f"SLO {slo.name!r} already has counts from {first_existing.isoformat()} in the range; "
            "backfill only the history before its first counted minute",
            field="from",
        )

    points = range_counts(
        http_client=http_client, base_url=base_url, config=config, step=step, start=start, end=end
    )
    rows = [
        (slo.id, minute_start(at - step), collected.good, collected.total)
        for at, collected in points
        if collected.total > 0
    ]
    minutes_written = 0
    for offset in range(0, len(rows), _WRITE_BATCH):
        minutes_written += measurements_repository.add_minute_counts(
            db_session=db_session, rows=rows[offset : offset + _WRITE_BATCH]
        )
    return BackfillReport(
        points=len(points),
        minutes_written=minutes_written,
        good=sum(good for _, _, good, _ in rows),
        total=sum(total for _, _, _, total in rows),
    )


def _backfill_readings(
    db_session: Session,
    http_client: httpx.Client,
    base_url: str,
    slo: Slo,
    config: Mapping[str, Any],
    reads: Reads,
    start: datetime,
    end: datetime,
    step: timedelta,
) -> BackfillReport:
    """Value and ratio SLIs: one reading per step with data, stored at the step's start."""
    if measurements_repository.has_samples_between(
        db_session=db_session, slo_id=slo.id, start=start, end=end
    ):
        raise ConflictError(
            f"SLO {slo.name!r} already has readings in the range; backfill only the history before them",
            field="from",
        )
    points = range_values(
        http_client=http_client,
        base_url=base_url,
        config=config,
        step=step,
        start=start,
        end=end,
        ratio=reads is Reads.RATIO,
    )
    written = measurements_repository.put_samples(
        db_session=db_session,
        slo_id=slo.id,
        samples=[Sample(at - step, reading.value) for at, reading in points],
    )
    steps = (end - start) // step
    return BackfillReport(points=steps, minutes_written=0, good=0, total=0, samples_written=written)


def _check_range(start: datetime, end: datetime, step: timedelta) -> None:
    if step <= timedelta(0) or step % _MINUTE:
        raise ValueError(f"the backfill step must be a whole number of minutes, got {step}")
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None:
            raise ValueError(f"the backfill {name} must be timezone-aware")
        if minute_start(moment) != moment:
            raise ValueError(f"the backfill {name} must be on a whole minute, got {moment.isoformat()}")
    if end <= start:
        raise ValueError("the backfill end must be after its start")
