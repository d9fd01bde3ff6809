"""The scheduled collection of SLIs from Prometheus, SQL sources and HTTP probes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.clock import Clock
from app.collectors import http_probe, prometheus, robustness, sql
from app.collectors.results import Collected, CollectionError, Outcome, Reading
from app.collectors.service import Claim, CollectionReport, Reads, collect_due, node_name
from app.core.sli_catalog import Source
from app.db import SessionFactory, transaction
from app.jobs import JobContext, ScheduledJob
from app.ml import drift, model_versions

logger = logging.getLogger(__name__)


class SourceCollectors:
    """The real collectors, behind the interface the service takes (tests may pass others)."""

    def __init__(
        self,
        prometheus_url: str | None = None,
        *,
        session_factory: SessionFactory | None = None,
        clock: Clock | None = None,
        definitions_dir: Path = Path("slo_definitions"),
    ) -> None:
        self._prometheus_url = prometheus_url
        self._session_factory = session_factory
        self._clock = clock
        self._definitions_dir = definitions_dir

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

    def collect_ml(self, *, http_client: httpx.Client, claim: Claim) -> Reading:
        if claim.source == Source.HTTP_PROBE.value:
            result = robustness.collect_robustness(
                http_client=http_client,
                config=claim.config,
                noise_sigma=claim.sli.get("noise_sigma"),
                base_dir=self._definitions_dir,
            )
            return Reading(result.flip_rate if claim.metric == "flip_rate" else result.robustness_ratio)
        if self._session_factory is None or self._clock is None:
            raise CollectionError("this collector needs the database")
        if claim.source == Source.PUSH.value:
            with transaction(self._session_factory) as db_session:
                age = model_versions.serving_age_seconds(
                    db_session=db_session, system_id=claim.system_id, at=claim.slot_start
                )
            if age is None:
                raise CollectionError("no serving model version: register one with serving: true")
            return Reading(age)
        return drift.check(
            session_factory=self._session_factory,
            clock=self._clock,
            slo_id=claim.slo_id,
            system_id=claim.system_id,
            metric=claim.metric,
            column=claim.sli.get("column"),
            config=claim.config,
            window_start=claim.window_start,
            window_end=claim.slot_start,
            base_dir=self._definitions_dir,
        )


def collect_slis(context: JobContext) -> CollectionReport:
    report = collect_due(
        session_factory=context.session_factory,
        clock=context.clock,
        http_client=context.http_client,
        collectors=SourceCollectors(
            prometheus_url=context.settings.prometheus_url,
            session_factory=context.session_factory,
            clock=context.clock,
            definitions_dir=context.settings.slo_definitions_dir,
        ),
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
