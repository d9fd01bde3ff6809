"""Sloth `prometheus/v1` import: each Sloth service becomes a system, each of its SLOs a native SLO
on the Prometheus source. The mapping is documented in docs/import-export.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.sli_catalog import SliKind, Source
from app.slos.openslo import (
    WINDOW_PLACEHOLDER,
    Diagnostics,
    ImportResult,
    Location,
    NativeCollector,
    complement_ratio_query,
    guess_latency_threshold_ms,
    native_spec,
    read_yaml_documents,
    slugify,
    validate_model,
)
from app.systems.models import Phase

SLOTH_VERSION = "prometheus/v1"
DEFAULT_SLOTH_WINDOW = "30d"  # Sloth's default SLO period
RUNBOOK_ANNOTATIONS = ("runbook", "runbook_url")


class _SlothModel(BaseModel):
    # Sloth reads its files strictly: an unknown field is a mistake.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SlothAlert(_SlothModel):
    disable: bool = False
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


class SlothAlerting(_SlothModel):
    name: str | None = None
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    page_alert: SlothAlert | None = None
    ticket_alert: SlothAlert | None = None


class SlothEvents(_SlothModel):
    error_query: str = Field(min_length=1)
    total_query: str = Field(min_length=1)


class SlothRaw(_SlothModel):
    error_ratio_query: str = Field(min_length=1)


class SlothPlugin(_SlothModel):
    id: str
    options: dict[str, Any] | None = None


class SlothSli(_SlothModel):
    events: SlothEvents | None = None
    raw: SlothRaw | None = None
    plugin: SlothPlugin | None = None

    @model_validator(mode="after")
    def _one_type(self) -> SlothSli:
        if sum(item is not None for item in (self.events, self.raw, self.plugin)) != 1:
            raise ValueError("give exactly one of events, raw or plugin")
        return self


class SlothInterval(_SlothModel):
    all: str | None = None
    slierror: str | None = None
    metadata: str | None = None
    alert: str | None = None


class SlothSlo(_SlothModel):
    name: str = Field(min_length=1)
    description: str | None = None
    objective: float = Field(gt=0, le=100)
    labels: dict[str, Any] | None = None
    info_labels: dict[str, Any] | None = Field(default=None, alias="infoLabels")
    sli: SlothSli
    alerting: SlothAlerting | None = None
    interval: SlothInterval | None = None


class SlothSpec(_SlothModel):
    version: Literal["prometheus/v1"]
    service: str = Field(min_length=1)
    labels: dict[str, Any] | None = None
    slos: list[SlothSlo] = Field(min_length=1)


def import_sloth(
    sources: Sequence[tuple[str, str]],
    *,
    phase: Phase = Phase.PRODUCTION,
    window: str = DEFAULT_SLOTH_WINDOW,
) -> ImportResult:
    """Convert Sloth `prometheus/v1` files, given as (display path, YAML text), to native documents
    of `phase`, every SLO over a rolling `window`. Production documents are returned even without an
    ML SLI (Sloth has none); the result's warnings say so."""
    diagnostics = Diagnostics()
    collector = NativeCollector()
    for display_path, text in sources:
        documents = [
            doc for doc in read_yaml_documents(display_path, text, diagnostics) if doc.data is not None
        ]
        if not documents and not any(error.file == display_path for error in diagnostics.errors):
            diagnostics.file_warning(display_path, "no Sloth specs in this file")
        for document in documents:
            at = Location(document, ())
            if isinstance(document.data, dict) and document.data.get("version") != SLOTH_VERSION:
                version = document.data.get("version")
                given = "missing" if version is None else repr(version)
                diagnostics.error(
                    at.child("version"),
                    f"unsupported version {given}: only Sloth {SLOTH_VERSION} can be imported",
                )
                continue
            spec = validate_model(SlothSpec, document.data, at, diagnostics)
            if spec is not None:
                _import_service(spec, at, phase, window, collector, diagnostics)
    return diagnostics.result(collector.documents(diagnostics))


def _import_service(
    spec: SlothSpec,
    at: Location,
    phase: Phase,
    window: str,
    collector: NativeCollector,
    diagnostics: Diagnostics,
) -> None:
    system = slugify(spec.service)
    if not system:
        diagnostics.error(at.child("service"), f"cannot make a system name from {spec.service!r}")
        return
    for index, slo in enumerate(spec.slos):
        slo_at = at.child("slos", index)
        raw = _native_slo(slo, slo_at, window, diagnostics)
        if raw is None:
            continue
        native = native_spec(raw, slo_at, f"SLO {slo.name!r}", diagnostics)
        if native is not None:
            collector.add(system, phase, native, slo_at, diagnostics)


def _native_slo(slo: SlothSlo, at: Location, window: str, diagnostics: Diagnostics) -> dict[str, Any] | None:
    name = slugify(slo.name)
    if not name:
        diagnostics.error(at.child("name"), f"cannot make an SLO name from {slo.name!r}")
        return None
    if slo.objective >= 100:
        diagnostics.error(
            at.child("objective"), "an objective of 100 leaves no error budget: mlslo needs one below 100"
        )
        return None
    sli = _native_sli(slo.sli, at.child("sli"), diagnostics)
    if sli is None:
        return None
    raw: dict[str, Any] = {
        "name": name,
        "description": slo.description or "",
        "sli": sli,
        "objective_percent": slo.objective,
        "window": window,
    }
    alerting = slo.alerting
    if alerting is not None:
        page = alerting.page_alert is None or not alerting.page_alert.disable
        ticket = alerting.ticket_alert is None or not alerting.ticket_alert.disable
        flags = {key: False for key, enabled in (("page", page), ("ticket", ticket)) if not enabled}
        if flags:
            raw["alerting"] = flags
        for key in RUNBOOK_ANNOTATIONS:
            runbook = (alerting.annotations or {}).get(key)
            if isinstance(runbook, str) and runbook.startswith(("http://", "https://")):
                raw["runbook_url"] = runbook
                break
    if slo.interval is not None:
        diagnostics.warn(at.child("interval"), "rule group intervals are Prometheus settings: ignored")
    return raw


def _native_sli(sli: SlothSli, at: Location, diagnostics: Diagnostics) -> dict[str, Any] | None:
    if sli.plugin is not None:
        diagnostics.error(
            at.child("plugin"),
            f"Sloth SLI plugins are not supported (plugin {sli.plugin.id!r}): write the plugin's "
            "queries as events (error_query and total_query) or raw (error_ratio_query)",
        )
        return None
    if sli.events is not None:
        queries = {"bad": sli.events.error_query, "total": sli.events.total_query}
        for role, key in (("bad", "error_query"), ("total", "total_query")):
            if WINDOW_PLACEHOLDER not in queries[role]:
                diagnostics.warn(
                    at.child("events", key),
                    f"the query does not use {WINDOW_PLACEHOLDER}: it gives the same count for every window",
                )
        threshold_ms = guess_latency_threshold_ms(queries.values())
        native: dict[str, Any] = {
            "kind": SliKind.LATENCY.value if threshold_ms is not None else SliKind.ERROR_RATE.value,
            "source": Source.PROMETHEUS.value,
            "prometheus": queries,
        }
        if threshold_ms is not None:
            native["threshold_ms"] = threshold_ms
        return native
    assert sli.raw is not None  # exactly one of the three, checked when read
    query = sli.raw.error_ratio_query
    if WINDOW_PLACEHOLDER not in query:
        diagnostics.warn(
            at.child("raw", "error_ratio_query"),
            f"the query does not use {WINDOW_PLACEHOLDER}: it gives the same ratio for every window",
        )
    # Our `value` query for an event SLI gives the share of good events: one minus Sloth's error ratio.
    return {
        "kind": SliKind.ERROR_RATE.value,
        "source": Source.PROMETHEUS.value,
        "prometheus": {"value": complement_ratio_query(query)},
    }
