"""Collecting SLIs from where the data already is (HTTP probes, SQL queries), one slot at a time.

Each SLO's collection runs on its own interval (`sli.collect_every`, default 1m). A slot is claimed
in the database before it runs, so with several mlslo processes each slot is collected exactly
once, and when a process dies the next slot is collected by another. Collections run in a thread
pool with a time limit, so a slow source never holds up the others; a failed collection stores no
counts (a gap), and its error is kept on the run."""

from __future__ import annotations

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
from app.collectors.results import Collected, CollectionError
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
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Collectors(Protocol):
    def probe(
        self,
        *,
        http_client: httpx.Client,
        config: Mapping[str, Any],
        sli_kind: str,
        threshold_ms: float | None,
    ) -> Collected: ...

    def query_counts(self, *, config: Mapping[str, Any]) -> Collected: ...

    def query_prometheus(
        self, *, http_client: httpx.Client, config: Mapping[str, Any], window: timedelta, at: datetime
    ) -> Collected: ...


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


@dataclass
class CollectionReport:
    collected: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped_already_claimed: int = 0


def is_collected(slo: Slo) -> bool:
    """Whether mlslo collects this SLO's data itself: event SLIs from a probe or a query. Value SLIs
    (an age, a score) need value storage, which does not exist yet."""
    if slo.source not in COLLECTED_SOURCES:
        return False
    metric = kind_info(SliKind(slo.sli_kind)).metrics.get(slo.metric)
    return metric is None or metric.measure is Measure.EVENTS


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
                    config=(slo.definition.get("sli") or {}).get(slo.source) or {},
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

    def run(claim: Claim) -> Collected:
        if claim.source == Source.PROMETHEUS.value:
            # The slot that just ended: its window is complete in Prometheus.
            return collectors.query_prometheus(
                http_client=http_client, config=claim.config, window=claim.interval, at=claim.slot_start
            )
        if claim.source == Source.HTTP_PROBE.value:
            return collectors.probe(
                http_client=http_client,
                config=claim.config,
                sli_kind=claim.sli_kind,
                threshold_ms=claim.threshold_ms,
            )
        return collectors.query_counts(config=claim.config)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collector") as pool:
        started = time.perf_counter()
        futures = [(claim, pool.submit(run, claim)) for claim in claims]
        for claim, future in futures:
            remaining = max(0.0, time_limit.total_seconds() - (time.perf_counter() - started))
            outcome: Collected | str
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
            (report.collected if isinstance(outcome, Collected) else report.failed).append(claim.slo_id)
        # Do not wait on collectors past their time limit: they finish (or fail) on their own.
        pool.shutdown(wait=False, cancel_futures=True)
    return report


def _record(
    session_factory: SessionFactory, clock: Clock, claim: Claim, outcome: Collected | str, seconds: float
) -> None:
    """One transaction per run: the counts and the run's outcome land together."""
    with transaction(session_factory) as db_session:
        run = repository.get(db_session=db_session, run_id=claim.run_id)
        if run is None:
            return
        run.finished_at = clock.now()
        run.duration_seconds = seconds
        if isinstance(outcome, Collected):
            # Prometheus counts cover the slot before the claimed one; probes and queries, the moment.
            counted_at = (
                claim.slot_start - claim.interval
                if claim.source == Source.PROMETHEUS.value
                else claim.slot_start
            )
            measurements_repository.add_minute_counts(
                db_session=db_session,
                rows=[(claim.slo_id, minute_start(counted_at), outcome.good, outcome.total)],
            )
            run.outcome, run.good, run.total = "ok", outcome.good, outcome.total
        else:
            # A failed collection is a gap: no counts, neither good nor bad.
            run.outcome, run.error = "failed", outcome[:1000]


def node_name() -> str:
    """This process, as written on the runs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"
