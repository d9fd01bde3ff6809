"""Sloth prometheus/v1 import: the examples in ../shared/conformance (read where CI puts them, never
skipped), and the mapping field by field."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from app import migrations
from app.core.sli_catalog import SliKind, Source
from app.slos.definition import SloSetDocument, semantic_problems
from app.slos.openslo import ImportResult
from app.slos.sloth import import_sloth
from app.systems.models import Phase

SLOTH = Path(migrations.PROJECT_ROOT).parent / "shared" / "conformance" / "sloth-prometheus-v1"
EXAMPLES = sorted(SLOTH.glob("*.yml"))
assert EXAMPLES, f"the conformance corpus is missing: no Sloth examples in {SLOTH}"


def source(path: Path) -> tuple[str, str]:
    return (path.name, path.read_text(encoding="utf-8"))


def sloth(text: str, **options: object) -> ImportResult:
    return import_sloth([("sloth.yml", dedent(text))], **options)  # type: ignore[arg-type]


def document_of(result: ImportResult, system: str) -> SloSetDocument:
    assert result.errors == []
    [document] = [d for d in result.documents if d.system == system]
    return document


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_imports_as_prometheus_slos(path: Path) -> None:
    result = import_sloth([source(path)], phase=Phase.TECHNICAL_VALIDATION)
    assert result.errors == []
    assert result.documents
    for document in result.documents:
        assert document.phase is Phase.TECHNICAL_VALIDATION
        assert semantic_problems(document, Phase.TECHNICAL_VALIDATION) == []
        for spec in document.slos:
            assert spec.sli.source is Source.PROMETHEUS
            assert spec.sli.prometheus is not None
            queries = [spec.sli.prometheus.bad, spec.sli.prometheus.total, spec.sli.prometheus.value]
            assert all("{{.window}}" in query for query in queries if query is not None)
            assert spec.window == "30d"


def test_all_examples_import_together() -> None:
    result = import_sloth([source(path) for path in EXAMPLES])
    assert result.errors == []
    assert [(d.system, [s.name for s in d.slos]) for d in result.documents] == [
        (
            "home-wifi",
            ["good-wifi-client-satisfaction", "risk-wifi-client-satisfaction", "wifi-client-satisfaction"],
        ),
        ("k8s-apiserver", ["requests-availability", "requests-latency"]),
        ("myapp", ["http-availability"]),
        ("myservice", ["requests-availability"]),
        ("myservice2", ["requests-availability"]),
    ]
    # getting-started.yml and multifile.yml define myservice's SLO identically.
    assert any("identically: imported once" in warning.message for warning in result.warnings)


def test_getting_started_maps_field_by_field() -> None:
    result = import_sloth([source(SLOTH / "getting-started.yml")])
    document = document_of(result, "myservice")
    assert document.phase is Phase.PRODUCTION
    [spec] = document.slos
    assert spec.model_dump(mode="json", exclude_defaults=True) == {
        "name": "requests-availability",
        "description": "Common SLO based on availability for HTTP request responses.",
        "sli": {
            "kind": "error_rate",
            "source": "prometheus",
            "prometheus": {
                "bad": 'sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))',
                "total": 'sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))',
            },
        },
        "objective_percent": 99.9,
        "window": "30d",
    }
    # Production needs an ML SLI, which Sloth cannot express: the document is returned, with a warning.
    assert [w.message for w in result.warnings if "ML SLI" in w.message] == [
        "myservice/production: a production file needs at least one ML SLI (classification_quality, "
        "data_drift, ...); add one before applying, or import with --phase technical_validation"
    ]


def test_kubernetes_latency_and_runbooks() -> None:
    document = document_of(import_sloth([source(SLOTH / "kubernetes-apiserver.yml")]), "k8s-apiserver")
    availability, latency = document.slos
    assert availability.sli.kind is SliKind.ERROR_RATE
    assert availability.runbook_url is not None
    assert availability.runbook_url.endswith("#alert-name-kubeapierrorshigh")
    # The error query counts requests above the 0.4 s bucket: a latency SLI with a 400 ms threshold.
    assert (latency.sli.kind, latency.sli.threshold_ms) == (SliKind.LATENCY, 400.0)
    assert latency.objective_percent == 99


def test_disabled_alerts() -> None:
    [spec] = document_of(import_sloth([source(SLOTH / "no-alerts.yml")]), "myapp").slos
    assert (spec.alerting.page, spec.alerting.ticket) == (False, False)
    [enabled] = document_of(import_sloth([source(SLOTH / "getting-started.yml")]), "myservice").slos
    assert (enabled.alerting.page, enabled.alerting.ticket) == (True, True)


def test_a_raw_error_ratio_becomes_the_good_ratio() -> None:
    [spec] = document_of(import_sloth([source(SLOTH / "raw-home-wifi.yml")]), "home-wifi").slos
    assert spec.sli.kind is SliKind.ERROR_RATE
    assert spec.sli.prometheus is not None
    # Sloth's error ratio is `1 - (average satisfaction)`: the good ratio is the average itself.
    assert spec.sli.prometheus.value == (
        "sum(sum_over_time(unifipoller_client_satisfaction_ratio[{{.window}}]))\n"
        "  /\n"
        "  sum(count_over_time(unifipoller_client_satisfaction_ratio[{{.window}}]))"
    )
    other = sloth(
        """\
        version: prometheus/v1
        service: svc
        slos:
          - name: ratio
            objective: 99
            sli: {raw: {error_ratio_query: 'avg(errors:ratio_rate{{.window}})'}}
        """
    )
    [spec] = document_of(other, "svc").slos
    assert spec.sli.prometheus is not None
    assert spec.sli.prometheus.value == "1 - (avg(errors:ratio_rate{{.window}}))"


def test_multi_document_files() -> None:
    result = import_sloth([source(SLOTH / "multifile.yml")])
    assert [(d.system, d.slos[0].objective_percent) for d in result.documents] == [
        ("myservice", 99.9),
        ("myservice2", 99.99),
    ]


def test_phase_and_window_options() -> None:
    result = import_sloth([source(SLOTH / "no-alerts.yml")], phase=Phase.CONCEPT, window="28d")
    document = document_of(result, "myapp")
    assert (document.phase, document.slos[0].window) == (Phase.CONCEPT, "28d")
    assert not any("ML SLI" in warning.message for warning in result.warnings)


GOOD_SLO = """\
version: prometheus/v1
service: svc
slos:
  - name: availability
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(errors[{{.window}}]))
        total_query: sum(rate(requests[{{.window}}]))
"""


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            (
                "      events:\n        error_query: sum(rate(errors[{{.window}}]))\n        total_query: sum(rate(requests[{{.window}}]))\n",
                "      plugin:\n        id: sloth-common/kubernetes/apiserver/availability\n",
            ),
            "slos[0].sli.plugin",
            "Sloth SLI plugins are not supported (plugin 'sloth-common/kubernetes/apiserver/availability')",
        ),
        (
            ("objective: 99.5", "objective: 100"),
            "slos[0].objective",
            "an objective of 100 leaves no error budget",
        ),
        (("objective: 99.5", "objective: 0"), "slos[0].objective", "greater than 0"),
        (
            ("version: prometheus/v1", "version: prometheus/v2"),
            "version",
            "unsupported version 'prometheus/v2'",
        ),
        (
            ("    objective: 99.5\n", "    objective: 99.5\n    window: 7d\n"),
            "slos[0].window",
            "unknown field",
        ),
        (("service: svc", "service: '***'"), "service", "cannot make a system name"),
        (
            ("  - name: availability", "  - name: availability\n    labels: {tier: 1}\n    sli: {}"),
            "slos[0].sli",
            "duplicate key 'sli'",
        ),
    ],
)
def test_bad_files_are_rejected_with_the_field(change: tuple[str, str], field: str, message: str) -> None:
    old, new = change
    assert old in GOOD_SLO
    result = import_sloth([("bad.yml", GOOD_SLO.replace(old, new))])
    assert result.documents == []
    assert any(
        error.file == "bad.yml" and error.field == field and message in error.message
        for error in result.errors
    ), [str(error) for error in result.errors]


def test_the_native_rules_apply_to_imported_slos() -> None:
    result = import_sloth([("sloth.yml", GOOD_SLO)], window="30m")
    assert result.documents == []
    [error] = result.errors
    assert error.field == "slos[0]"
    assert error.message.startswith(
        "SLO 'availability' cannot be imported: window: the window must be between 1h"
    )


def test_a_query_without_the_window_placeholder_is_a_warning() -> None:
    result = import_sloth(
        [("sloth.yml", GOOD_SLO.replace("[{{.window}}]))\n        total", "[5m]))\n        total"))],
        phase=Phase.TECHNICAL_VALIDATION,
    )
    assert result.errors == []
    assert [(w.field, w.message) for w in result.warnings] == [
        (
            "slos[0].sli.events.error_query",
            "the query does not use {{.window}}: it gives the same count for every window",
        )
    ]


def test_every_error_of_every_file_is_reported_and_nothing_is_produced() -> None:
    result = import_sloth(
        [
            source(SLOTH / "getting-started.yml"),
            ("one.yml", GOOD_SLO.replace("objective: 99.5", "objective: 100")),
            ("two.yml", "version: prometheus/v1\nslos: []\n"),
            ("empty.yml", ""),
        ]
    )
    assert result.documents == []
    assert {(error.file, error.field) for error in result.errors} == {
        ("one.yml", "slos[0].objective"),
        ("two.yml", "service"),
        ("two.yml", "slos"),
    }
    assert any(w.file == "empty.yml" and w.message == "no Sloth specs in this file" for w in result.warnings)
