"""Collecting SLIs from where the data already is (HTTP probes, SQL queries), one slot at a time.

Each SLO's collection runs on its own interval (`sli.collect_every`, default 1m). A slot is claimed
in the database before it runs, so with several mlslo processes each slot is collected exactly
once, and when a process dies the next slot is collected by another. Collections run in a thread
pool with a time limit, so a slow source never holds up the others.

A collection stores good and total events (event SLIs), or one reading: a value (value SLIs) or
the good ratio of the window (event SLIs whose Prometheus query gives only the ratio). A failed
collection stores nothing (a gap) unless the SLO says `missing_data.count_as: bad`, when it stores
a bad reading; its error is kept on the run either way."""

from __future__ import annotations

import enum
import logging
import os
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from app.clock import Clock
from app.collectors import repository
from app.collectors.results import Collected, CollectionError, Outcome, Reading
from app.core.sample_budgeting import Sample
from app.core.sli_catalog import Measure, SliKind, Source, kind_info
from app.core.windows import parse_window
from app.db import SessionFactory, transaction
from app.measurements import repository as measurements_repository
from app.measurements.service import minute_start
from app.slos import repository as slos_repository
from app.slos.models import Slo

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = timedelta(minutes=1)
COLLECTED_SOURCES = (Source.HTTP_PROBE.value, Source.SQL.value, Source.PROMETHEUS.value)
WINDOWED_SOURCES = (Source.PROMETHEUS.value, Source.EVIDENTLY.value)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Reads(enum.StrEnum):
    """What a collection of an SLO stores."""

    COUNTS = "counts"
    VALUE = "value"
    RATIO = "ratio"


class Collectors(Protocol):
    def probe(
        self,
        *,
        http_client: httpx.Client,
        config: Mapping[str, Any],
        sli_kind: str,
        threshold_ms: float | None,
    ) -> Collected: ...

    def query_sql(self, *, config: Mapping[str, Any], reads: Reads) -> Outcome: ...

    def query_prometheus(
        self,
        *,
        http_client: httpx.Client,
        config: Mapping[str, Any],
        window: timedelta,
        at: datetime,
        reads: Reads,
    ) -> Outcome: ...

    def collect_ml(self, *, http_client: httpx.Client, claim: Claim) -> Reading:
        """ML readings: drift and data quality (evidently), robustness of a model endpoint
        (http_probe), the serving model's age (push model_staleness)."""
        ...


@dataclass(frozen=True)
class Claim:
    run_id: int
    slo_id: int
    slot_start: datetime
    interval: timedelta
    source: str
    sli_kind: str
    threshold_ms: float | None
    config: Mapping[str, Any]
    reads: Reads
    failure_is_bad: bool
    system_id: int = 0
    metric: str = ""
    sli: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_ml(self) -> bool:
        return is_ml_collection(self.source, self.sli_kind)

    @property
    def window_start(self) -> datetime:
        """Windowed sources (Prometheus, drift) cover the slot before the claimed one."""
        return self.slot_start - self.interval if self.source in WINDOWED_SOURCES else self.slot_start


@dataclass
class CollectionReport:
    collected: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped_already_claimed: int = 0


def reads_of(slo: Slo) -> Reads:
    """Counts for event SLIs; a value for value SLIs; a ratio for event SLIs whose Prometheus
    query gives only the share of good events."""
    metric = kind_info(SliKind(slo.sli_kind)).metrics.get(slo.metric)
    if metric is not None and metric.measure is Measure.VALUE:
        return Reads.VALUE
    if slo.source == Source.PROMETHEUS.value and _sli_block(slo).get("value") is not None:
        return Reads.RATIO
    return Reads.COUNTS


def is_ml_collection(source: str, sli_kind: str) -> bool:
    return (
        source == Source.EVIDENTLY.value
        or (source == Source.HTTP_PROBE.value and sli_kind == SliKind.ROBUSTNESS.value)
        or (source == Source.PUSH.value and sli_kind == SliKind.MODEL_STALENESS.value)
    )


def is_collected(slo: Slo) -> bool:
    """Whether mlslo collects this SLO's data itself: from a probe or a query, a drift check against
    a reference, a model endpoint's robustness, or the serving model's age from its registry."""
    return slo.source in COLLECTED_SOURCES or is_ml_collection(slo.source, slo.sli_kind)


def missing_data_settings(slo: Slo) -> Mapping[str, Any]:
    return (slo.definition.get("sli") or {}).get("missing_data") or {}


def allowed_gap(slo: Slo) -> timedelta:
    """How long collection may fail before "SLI data missing": the SLO's `missing_data.alert_after`,
    else three collection intervals."""
    after = missing_data_settings(slo).get("alert_after")
    return parse_window(after) if after else 3 * collection_interval(slo)


def _sli_block(slo: Slo) -> Mapping[str, Any]:
    block: Mapping[str, Any] = (slo.definition.get("sli") or {}).get(slo.source) or {}
    return block


def collection_interval(slo: Slo) -> timedelta:
    every = (slo.definition.get("sli") or {}).get("collect_every")
    return parse_window(every) if every else DEFAULT_INTERVAL


def slot_start(now: datetime, interval: timedelta) -> datetime:
    return now - (now - _EPOCH) % interval


def claim_due(*, session_factory: SessionFactory, clock: Clock, node: str) -> tuple[list[Claim], int]:
    """Claim the current slot of every collected SLO in force that no process has claimed yet."""
    now = clock.now()
    claims: list[Claim] = []
    already = 0
    with transaction(session_factory) as db_session:
        for slo, _ in slos_repository.list_in_force(db_session=db_session):
            if not is_collected(slo):
                continue
            interval = collection_interval(slo)
            start = slot_start(now, interval)
            run_id = repository.claim_slot(
                db_session=db_session, slo_id=slo.id, slot_start=start, claimed_by=node, now=now
            )
            if run_id is None:
                already += 1
                continue
            claims.append(
                Claim(
                    run_id=run_id,
                    slo_id=slo.id,
                    slot_start=start,
                    interval=interval,
                    source=slo.source,
                    sli_kind=slo.sli_kind,
                    threshold_ms=slo.threshold_ms,
                    config=_sli_block(slo),
                    reads=reads_of(slo),
                    failure_is_bad=missing_data_settings(slo).get("count_as") == "bad",
                    system_id=slo.system_id,
                    metric=slo.metric,
                    sli=slo.definition.get("sli") or {},
                )
            )
    return claims, already


def collect_due(
    *,
    session_factory: SessionFactory,
    clock: Clock,
    http_client: httpx.Client,
    collectors: Collectors,
    node: str,
    workers: int = 8,
    time_limit: timedelta = timedelta(seconds=60),
) -> CollectionReport:
    claims, already = claim_due(session_factory=session_factory, clock=clock, node=node)
    report = CollectionReport(skipped_already_claimed=already)
    if not claims:
        return report

    def run(claim: Claim) -> Outcome:
        if claim.is_ml:
            return collectors.collect_ml(http_client=http_client, claim=claim)
        if claim.source == Source.PROMETHEUS.value:
            # The slot that just ended: its window is complete in Prometheus.
            return collectors.query_prometheus(
                http_client=http_client,
                config=claim.config,
                window=claim.interval,
                at=claim.slot_start,
                reads=claim.reads,
            )
        if claim.source == Source.HTTP_PROBE.value:
            return collectors.probe(
                http_client=http_client,
                config=claim.config,
                sli_kind=claim.sli_kind,
                threshold_ms=claim.threshold_ms,
            )
        return collectors.query_sql(config=claim.config, reads=claim.reads)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collector") as pool:
        started = time.perf_counter()
        futures = [(claim, pool.submit(run, claim)) for claim in claims]
        for claim, future in futures:
            remaining = max(0.0, time_limit.total_seconds() - (time.perf_counter() - started))
            outcome: Outcome | str
            try:
                outcome = future.result(timeout=remaining)
            except FutureTimeoutError:
                outcome = f"timed out after {time_limit.total_seconds():g}s"
            except CollectionError as exc:
                outcome = str(exc)
            except Exception as exc:  # a collector bug must not stop the others
                logger.exception("collector for SLO %s failed", claim.slo_id)
                outcome = f"collector error: {type(exc).__name__}"
            _record(session_factory, clock, claim, outcome, time.perf_counter() - started)
            (report.collected if not isinstance(outcome, str) else report.failed).append(claim.slo_id)
        # Do not wait on collectors past their time limit: they finish (or fail) on their own.
        pool.shutdown(wait=False, cancel_futures=True)
    return report


def _record(
    session_factory: SessionFactory, clock: Clock, claim: Claim, outcome: Outcome | str, seconds: float
) -> None:
    """One transaction per run: what it collected and the run's outcome land together."""
    counted_at = claim.window_start
    with transaction(session_factory) as db_session:
        run = repository.get(db_session=db_session, run_id=claim.run_id)
        if run is None:
            return
        run.finished_at = clock.now()
        run.duration_seconds = seconds
        if isinstance(outcome, Collected):
            measurements_repository.add_minute_counts(
                db_session=db_session,
                rows=[(claim.slo_id, minute_start(counted_at), outcome.good, outcome.total)],
            )
            run.outcome, run.good, run.total = "ok", outcome.good, outcome.total
        elif isinstance(outcome, Reading):
            measurements_repository.put_samples(
                db_session=db_session, slo_id=claim.slo_id, samples=[Sample(counted_at, outcome.value)]
            )
            run.outcome, run.value = "ok", outcome.value
            if outcome.store is not None:
                outcome.store(db_session)
        else:
            run.outcome, run.error = "failed", outcome[:1000]
            if claim.failure_is_bad and claim.reads is not Reads.COUNTS:
                # The SLO counts a failed collection as a bad reading; otherwise it is a gap.
                measurements_repository.put_samples(
                    db_session=db_session, slo_id=claim.slo_id, samples=[Sample(counted_at, None)]
                )


def node_name() -> str:
    """This process, as written on the runs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"
