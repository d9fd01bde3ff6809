"""Ingesting request events: each event is classified for every request SLO in force and folded
into per-minute good/total counts; raw events are not kept."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.clock import Clock
from app.core.request_sli import RequestSliKind, request_is_good
from app.core.sli_catalog import Source
from app.errors import InvalidInputError
from app.measurements import repository
from app.measurements.schemas import IngestResult, RequestEventBatch
from app.slos import repository as slos_repository
from app.systems.models import System

# Events stamped further ahead than this are refused: a skewed client clock would otherwise
# write counts into minutes no evaluation has reached yet.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def minute_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def ingest_request_events(
    *, db_session: Session, clock: Clock, system: System, batch: RequestEventBatch
) -> IngestResult:
    latest_allowed = clock.now() + MAX_CLOCK_SKEW
    for index, event in enumerate(batch.events):
        if event.time > latest_allowed:
            raise InvalidInputError(
                f"event time {event.time.isoformat()} is more than {MAX_CLOCK_SKEW} in the future",
                field=f"events.{index}.time",
            )
    request_slos = [
        slo
        for slo, _ in slos_repository.list_in_force(db_session=db_session, system_id=system.id)
        if slo.source == Source.PUSH and slo.sli_kind in set(RequestSliKind)
    ]
    counts: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])
    for event in batch.events:
        minute = minute_start(event.time)
        succeeded = event.outcome == "success"
        for slo in request_slos:
            good = request_is_good(
                RequestSliKind(slo.sli_kind),
                latency_ms=event.latency_ms,
                succeeded=succeeded,
                threshold_ms=slo.threshold_ms,
            )
            cell = counts[(slo.id, minute)]
            cell[0] += int(good)
            cell[1] += 1
    repository.add_minute_counts(
        db_session=db_session,
        rows=((slo_id, minute, good, total) for (slo_id, minute), (good, total) in counts.items()),
    )
    times = [event.time for event in batch.events]
    return IngestResult(
        accepted_events=len(batch.events),
        slos_updated=[slo.name for slo in request_slos],
        minutes_updated=len(counts),
        earliest=min(times),
        latest=max(times),
    )
