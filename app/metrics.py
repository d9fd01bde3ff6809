"""Prometheus exposition of each SLO's latest status, read from the database at scrape time so
that every replica exports the same values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.clock import Clock
from app.collectors import repository as collectors_repository
from app.db import SessionFactory
from app.evaluation import repository as evaluation_repository
from app.notifications import repository as notifications_repository


class SloStatusCollector(Collector):
    def __init__(self, session_factory: SessionFactory, clock: Clock) -> None:
        self._session_factory = session_factory
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["system", "phase", "slo"]
        sli = GaugeMetricFamily(
            "mlslo_slo_sli_ratio", "SLI over the SLO period (good / valid events).", labels=labels
        )
        objective = GaugeMetricFamily("mlslo_slo_objective_ratio", "The SLO's objective.", labels=labels)
        budget = GaugeMetricFamily(
            "mlslo_slo_error_budget_remaining_ratio",
            "Share of the period's error budget left (negative once overspent).",
            labels=labels,
        )
        burn = GaugeMetricFamily(
            "mlslo_slo_burn_rate", "Error-budget burn rate over a window.", labels=[*labels, "window"]
        )
        firing = GaugeMetricFamily(
            "mlslo_slo_alert_firing",
            "1 while the SLO's burn-rate alert of this severity fires.",
            labels=[*labels, "severity"],
        )
        with self._session_factory() as session:
            rows = evaluation_repository.list_status_rows(db_session=session)
            now = self._clock.now()
            outcomes = collectors_repository.outcome_counts_since(
                db_session=session, since=now - timedelta(hours=1)
            )
            last_success = collectors_repository.last_success_by_slo(db_session=session)
            last_run = collectors_repository.last_run_by_slo(db_session=session)
            outbox = notifications_repository.count_by_status_and_target(db_session=session)
        for status, slo, system in rows:
            values = [system.name, slo.phase, slo.name]
            objective.add_metric(values, slo.objective)
            if status.error_budget_remaining is not None:
                budget.add_metric(values, status.error_budget_remaining)
            if status.sli is not None:
                sli.add_metric(values, status.sli)
            for window, rate in status.burn_rates.items():
                if rate is not None:
                    burn.add_metric([*values, window], rate)
            for severity in ("page", "ticket"):
                firing.add_metric([*values, severity], 1.0 if status.alert_severity == severity else 0.0)
        runs = GaugeMetricFamily(
            "mlslo_collector_runs_last_hour",
            "Collection slots claimed in the last hour, by outcome.",
            labels=["outcome"],
        )
        for outcome in ("ok", "failed", "running"):
            runs.add_metric([outcome], float(outcomes.get(outcome, 0)))
        lag = GaugeMetricFamily(
            "mlslo_collector_last_success_age_seconds",
            "Seconds since the start of the last successfully collected slot.",
            labels=labels,
        )
        for _status, slo, system in rows:
            if slo.id in last_success:
                lag.add_metric(
                    [system.name, slo.phase, slo.name], (now - last_success[slo.id]).total_seconds()
                )
        duration = GaugeMetricFamily(
            "mlslo_collector_last_duration_seconds",
            "How long the latest finished collection took, and whether it failed.",
            labels=[*labels, "outcome"],
        )
        for _status, slo, system in rows:
            if slo.id in last_run:
                run = last_run[slo.id]
                duration.add_metric(
                    [system.name, slo.phase, slo.name, run.outcome], run.duration_seconds or 0.0
                )
        notifications = GaugeMetricFamily(
            "mlslo_notifications",
            "Notifications in the outbox by status (pending, sent, dead, silenced) and target; "
            "alert on dead > 0.",
            labels=["status", "target"],
        )
        for (status_name, target), count in sorted(outbox.items()):
            notifications.add_metric([status_name, target], float(count))
        yield from (sli, objective, budget, burn, firing, runs, lag, duration, notifications)
