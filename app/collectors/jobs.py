"""The scheduled collection of SLIs from Prometheus, SQL sources and HTTP probes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.collectors import http_probe, prometheus, sql
from app.collectors.results import Collected, CollectionError, Outcome
from app.collectors.service import CollectionReport, Reads, collect_due, node_name
from app.jobs import JobContext, ScheduledJob

logger = logging.getLogger(__name__)


class SourceCollectors:
    """The real collectors, behind the interface the service takes (tests may pass others)."""

    def __init__(self, prometheus_url: str | None = None) -> None:
        self._prometheus_url = prometheus_url

    def probe(
        self,
        *,
        http_client: httpx.Client,
        config: Mapping[str, Any],
        sli_kind: str,
        threshold_ms: float | None,
    ) -> Collected:
        return http_probe.probe(
            http_client=http_client, config=config, sli_kind=sli_kind, threshold_ms=threshold_ms
        )

    def query_sql(self, *, config: Mapping[str, Any], reads: Reads) -> Outcome:
        if reads is Reads.COUNTS:
            return sql.query_counts(config=config)
        return sql.query_value(config=config)

    def query_prometheus(
        self,
        *,
        http_client: httpx.Client,
        config: Mapping[str, Any],
        window: timedelta,
        at: datetime,
        reads: Reads,
    ) -> Outcome:
        if self._prometheus_url is None:
            raise CollectionError("no Prometheus to query: set MLSLO_PROMETHEUS_URL")
        if reads is Reads.COUNTS:
            return prometheus.query_counts(
                http_client=http_client, base_url=self._prometheus_url, config=config, window=window, at=at
            )
        return prometheus.query_value(
            http_client=http_client,
            base_url=self._prometheus_url,
            config=config,
            window=window,
            at=at,
            ratio=reads is Reads.RATIO,
        )


def collect_slis(context: JobContext) -> CollectionReport:
    report = collect_due(
        session_factory=context.session_factory,
        clock=context.clock,
        http_client=context.http_client,
        collectors=SourceCollectors(prometheus_url=context.settings.prometheus_url),
        node=node_name(),
    )
    if report.collected or report.failed:
        logger.info("collected %d SLOs, %d failed", len(report.collected), len(report.failed))
    return report


COLLECTION_JOB = ScheduledJob(
    id="collect-slis",
    run=collect_slis,
    # Slots are claimed by time, so ticking faster than the shortest interval only finds them sooner.
    interval_seconds=lambda settings: settings.collection_tick_seconds,
)
