"""Prometheus exposition of each SLO's latest status, read from the database at scrape time so
that every replica exports the same values."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.db import SessionFactory
from app.evaluation import repository as evaluation_repository


class SloStatusCollector(Collector):
    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory

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
        yield from (sli, objective, budget, burn, firing)
