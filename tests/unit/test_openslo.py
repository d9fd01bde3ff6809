"""OpenSLO v1 import and export: the conformance corpus in ../shared/conformance (read where CI puts it,
never skipped), the mapping field by field, and export → import round trips."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
import yaml

from app import migrations
from app.core.sli_catalog import SliKind, Source
from app.slos.definition import SloSetDocument, semantic_problems
from app.slos.loader import load_path
from app.slos.openslo import (
    ANNOTATION_PREFIX,
    ImportResult,
    complement_ratio_query,
    export_openslo,
    guess_latency_threshold_ms,
    import_openslo,
    openslo_file_to_native,
    slugify,
)
from app.systems.models import Phase

CONFORMANCE = Path(migrations.PROJECT_ROOT).parent / "shared" / "conformance"
OPENSLO = CONFORMANCE / "openslo-v1"


def corpus(folder: Path) -> list[Path]:
    """The corpus is required: CI copies shared/ next to the repository. Missing files fail collection."""
    files = sorted(folder.glob("*.yaml"))
    assert files, f"the conformance corpus is missing: no YAML files in {folder}"
    return files


VALID = corpus(OPENSLO / "valid")
INVALID = corpus(OPENSLO / "invalid")
# valid/alert_policies.yaml refers to AlertConditions and AlertNotificationTargets that no file of the
# corpus defines (on-call-mail-notification, on-call-pd-notification), in exactly the way the invalid
# v1_alert_policies_invalid_*.yaml files do: see test_alert_policies_example_and_invalid_files_conflict.
DANGLING_IN_ALERT_POLICIES = {"cpu-usage-breach", "on-call-mail-notification", "on-call-pd-notification"}
# For each invalid file: a part of the offending field, and a part of the message.
INVALID_EXPECTATIONS = {
    "invalid-apiversion.yaml": ("apiVersion", "'foo'"),
    "unknown-field.yaml": ("spec.markdown", "unknown field"),
    "v1_alert_policies_invalid_condition.yaml": ("conditions[0].conditionRef", "'cpu-usage-breach'"),
    "v1_alert_policies_invalid_target.yaml": (
        "notificationTargets[1].targetRef",
        "'devs-email-notification'",
    ),
    "v1_slo_invalid_policy.yaml": ("alertPolicies[0].alertPolicyRef", "'no-policy'"),
    "v1_slo_invalid_sli.yaml": ("spec.indicatorRef", "'no-sli'"),
    "v1_slo_invalid_target.yaml": ("notificationTargets[1].targetRef", "'devs-email-notification'"),
}


def source(path: Path) -> tuple[str, str]:
    return (path.name, path.read_text(encoding="utf-8"))


def imported(*texts: str, phase: Phase = Phase.PRODUCTION) -> ImportResult:
    return import_openslo([(f"file{number}.yaml", text) for number, text in enumerate(texts)], phase=phase)


def documents_of(result: ImportResult) -> list[SloSetDocument]:
    assert result.errors == []
    return result.documents


def only_document(result: ImportResult) -> SloSetDocument:
    assert result.errors == []
    [document] = result.documents
    return document


# --- The conformance corpus -----------------------------------------------------------------------


def test_the_invalid_corpus_is_the_one_these_tests_expect() -> None:
    assert {path.name for path in INVALID} == set(INVALID_EXPECTATIONS)
    assert len(VALID) >= 9


@pytest.mark.parametrize("path", [p for p in VALID if p.name != "alert_policies.yaml"], ids=lambda p: p.name)
def test_each_valid_file_imports_on_its_own(path: Path) -> None:
    result = import_openslo([source(path)])
    assert result.errors == []
    for document in result.documents:
        assert document.phase is Phase.PRODUCTION
        assert semantic_problems(document, None) == []


def test_alert_policies_example_and_invalid_files_conflict() -> None:
    """valid/alert_policies.yaml's policy `medium-priority` has the same shape as
    invalid/v1_alert_policies_invalid_condition.yaml's (a conditionRef to cpu-usage-breach, which neither
    file defines, and an inline target): no rule can accept one and reject the other. By default every
    reference must resolve, as in the OpenSLO Go SDK's inliner that the invalid corpus comes from;
    `check_unused_references=False` accepts dangling references in objects no SLO uses instead."""
    strict = import_openslo([source(OPENSLO / "valid" / "alert_policies.yaml")])
    assert strict.documents == []
    assert {re.search(r"named '([^']+)'", error.message).group(1) for error in strict.errors} == (  # type: ignore[union-attr]
        DANGLING_IN_ALERT_POLICIES
    )
    assert all("dangling reference" in error.message for error in strict.errors)

    lenient = import_openslo(
        [source(OPENSLO / "valid" / "alert_policies.yaml")], check_unused_references=False
    )
    assert lenient.errors == []
    assert len(lenient.warnings) == 4
    for name in ("v1_alert_policies_invalid_condition.yaml", "v1_alert_policies_invalid_target.yaml"):
        assert import_openslo([source(OPENSLO / "invalid" / name)], check_unused_references=False).ok


def test_all_valid_files_import_together() -> None:
    strict = import_openslo([source(path) for path in VALID])
    # Together, the conditions resolve; two notification targets are still defined nowhere.
    assert sorted((error.file, error.field) for error in strict.errors) == [
        ("alert_policies.yaml", "[0].spec.notificationTargets[0].targetRef"),
        ("alert_policies.yaml", "[1].spec.notificationTargets[0].targetRef"),
    ]

    result = import_openslo([source(path) for path in VALID], check_unused_references=False)
    assert result.errors == []
    assert [(document.system, len(document.slos)) for document in result.documents] == [
        ("example-service", 0),
        ("users-auth", 0),
        ("users-login", 0),
        ("web", 1),
    ]
    # slos.yaml and oslo_v1.yaml define the same SLO identically: imported once, with a warning.
    assert any("identically: imported once" in warning.message for warning in result.warnings)


def test_the_valid_files_without_alert_policies_import_together_strictly() -> None:
    result = import_openslo([source(path) for path in VALID if path.name != "alert_policies.yaml"])
    assert result.errors == []
    assert {document.system for document in result.documents} == {
        "example-service",
        "users-auth",
        "users-login",
        "web",
    }


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_each_invalid_file_is_rejected_naming_the_file_and_field(path: Path) -> None:
    result = import_openslo([source(path)])
    assert result.documents == []
    assert result.errors
    assert all(error.file == path.name and error.line is not None for error in result.errors)
    field_part, message_part = INVALID_EXPECTATIONS[path.name]
    assert any(field_part in error.field and message_part in error.message for error in result.errors), [
        str(error) for error in result.errors
    ]


def test_an_invalid_file_among_valid_ones_rejects_the_whole_batch() -> None:
    sources = [
        source(OPENSLO / "valid" / "slos.yaml"),
        source(OPENSLO / "invalid" / "v1_slo_invalid_sli.yaml"),
    ]
    result = import_openslo(sources)
    assert result.documents == []
    assert {error.file for error in result.errors} == {"v1_slo_invalid_sli.yaml"}


def test_every_error_of_every_file_is_reported() -> None:
    result = import_openslo([source(path) for path in INVALID])
    assert {error.file for error in result.errors} == set(INVALID_EXPECTATIONS)


def test_the_web_availability_slo_maps_field_by_field() -> None:
    result = import_openslo([source(OPENSLO / "valid" / "slos.yaml")], phase=Phase.TECHNICAL_VALIDATION)
    document = only_document(result)
    assert (document.system, document.phase) == ("web", Phase.TECHNICAL_VALIDATION)
    [spec] = document.slos
    assert spec.model_dump(mode="json", exclude_defaults=True) == {
        "name": "web-availability",
        "description": "SLO for web availability: X% of search requests are successful",
        "sli": {
            "kind": "error_rate",
            "source": "prometheus",
            "prometheus": {
                "good": 'sum(http_requests{k8s_cluster="prod",component="web",code=~"2xx|4xx"})',
                "total": 'sum(http_requests{k8s_cluster="prod",component="web"})',
            },
        },
        "objectives": [{"name": "good", "target": 0.995}],
        "budgeting": "timeslices",
        "time_slice": {"window": "1m", "target": 0.95},
        "window": {"calendar": "week", "time_zone": "America/New_York"},
    }
    messages = [warning.message for warning in result.warnings]
    # counter: true without {{.window}}, and a startTime that is not a week's start.
    assert sum("counter: true" in message for message in messages) == 2
    assert any("startTime 2022-01-01 12:00:00 is not used" in message for message in messages)


def test_production_imports_are_returned_with_a_warning_about_the_ml_sli() -> None:
    result = import_openslo([source(OPENSLO / "valid" / "slos.yaml")])
    assert only_document(result).phase is Phase.PRODUCTION
    assert any("needs at least one ML SLI" in warning.message for warning in result.warnings)


# --- References, documents, lists -----------------------------------------------------------------

SLO_BY_REFERENCE = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: Checkout Availability
  displayName: Checkout
spec:
  service: Checkout Service
  indicatorRef: checkout-errors
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.999
  alertPolicies:
    - alertPolicyRef: checkout-paging
"""
SLI_AND_POLICY = """\
- apiVersion: openslo/v1
  kind: SLI
  metadata:
    name: checkout-errors
  spec:
    ratioMetric:
      counter: false
      bad:
        metricSource:
          metricSourceRef: prometheus
          spec:
            query: sum(increase(checkout_errors_total[{{.window}}]))
      total:
        metricSource:
          metricSourceRef: prometheus
          spec:
            query: sum(increase(checkout_requests_total[{{.window}}]))
- apiVersion: openslo/v1
  kind: AlertPolicy
  metadata:
    name: checkout-paging
  spec:
    alertWhenBreaching: true
    conditions:
      - conditionRef: cpu-usage-breach
    notificationTargets:
      - targetRef: pd-on-call-notification
"""


def test_references_resolve_across_files() -> None:
    result = import_openslo(
        [
            ("slo.yaml", SLO_BY_REFERENCE),
            ("sli.yaml", SLI_AND_POLICY),
            source(OPENSLO / "valid" / "data_sources.yaml"),
            source(OPENSLO / "valid" / "alert_conditions.yaml"),
            source(OPENSLO / "valid" / "alert_notification_targets.yaml"),
        ]
    )
    document = only_document(result)
    assert document.system == "checkout-service"
    [spec] = document.slos
    assert spec.name == "checkout-availability"
    # The metric source's type comes from the DataSource named `prometheus`.
    assert spec.sli.source is Source.PROMETHEUS
    assert spec.sli.prometheus is not None
    assert spec.sli.prometheus.bad == "sum(increase(checkout_errors_total[{{.window}}]))"
    assert spec.objective == 0.999
    assert spec.budgeting is not None
    assert spec.window == "28d"
    # The only condition is a page: the SLO pages but opens no tickets.
    assert (spec.alerting.page, spec.alerting.ticket) == (True, False)
    assert spec.description.startswith("Checkout\nOpenSLO alert policy checkout-paging (when breaching): ")
    assert "cpu-usage-breach [page]: burn rate lte 2 over 1h for 5m" in spec.description
    assert "pd-on-call-notification (pagerduty)" in spec.description


def test_a_missing_reference_is_reported_with_a_suggestion() -> None:
    result = imported(
        SLO_BY_REFERENCE, SLI_AND_POLICY.replace("name: checkout-errors", "name: checkout-error")
    )
    assert result.documents == []
    messages = {error.field: error.message for error in result.errors}
    assert "did you mean 'checkout-error'?" in messages["spec.indicatorRef"]
    assert "no AlertCondition named 'cpu-usage-breach'" in messages["[1].spec.conditions[0].conditionRef"]


def test_two_different_objects_with_one_name_make_a_reference_ambiguous() -> None:
    other = SLI_AND_POLICY.replace("checkout_errors_total", "other_errors_total")
    result = imported(SLO_BY_REFERENCE, SLI_AND_POLICY, other)
    assert any(
        "ambiguous reference: 2 different SLIs" in error.message and error.field == "spec.indicatorRef"
        for error in result.errors
    )


def test_a_metric_source_needs_a_type_or_a_data_source() -> None:
    result = imported(SLO_BY_REFERENCE, SLI_AND_POLICY)
    assert any(
        error.field == "[0].spec.ratioMetric.bad.metricSource.metricSourceRef"
        and "no DataSource named 'prometheus'" in error.message
        for error in result.errors
    )


def test_multi_document_files_and_lists_are_both_read() -> None:
    documents = import_openslo([source(OPENSLO / "valid" / "two_documents.yaml")]).documents
    assert [document.system for document in documents] == ["users-auth", "users-login"]
    listed = import_openslo([source(OPENSLO / "valid" / "oslo_v1.yaml")]).documents
    assert [(document.system, len(document.slos)) for document in listed] == [
        ("example-service", 0),
        ("web", 1),
    ]


def test_duplicate_keys_and_yaml_errors_are_reported_with_lines() -> None:
    result = imported("apiVersion: openslo/v1\nkind: Service\nkind: Service\nmetadata: {name: a}\nspec: {}\n")
    assert [(e.line, e.field) for e in result.errors] == [(3, "kind")]
    broken = imported("apiVersion: openslo/v1\nkind: [Service\n")
    assert broken.errors[0].message.startswith("invalid YAML")
    assert broken.errors[0].line is not None


def test_alias_bombs_and_self_referring_documents_are_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefg":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
    for text in (bomb, "&loop [*loop]\n"):
        [error] = imported(text).errors
        assert "too large once its aliases are expanded" in error.message
    aliases = "- {apiVersion: openslo/v1, kind: Service, metadata: &m {name: shop}, spec: {}}\n- {apiVersion: openslo/v1, kind: Service, metadata: *m, spec: {}}\n"
    assert [document.system for document in documents_of(imported(aliases))] == ["shop"]


def test_unknown_kinds_fields_and_values_are_errors() -> None:
    result = imported(
        dedent(
            """\
            - apiVersion: openslo/v1
              kind: Dashboard
              metadata: {name: a}
              spec: {}
            - apiVersion: openslo/v1
              kind: SLO
              metadata: {name: b}
              spec:
                service: web
                indicatorRef: x
                budgetingMethod: Sometimes
                objectives: [{target: 1.5}]
                colour: blue
            """
        )
    )
    fields = {error.field: error.message for error in result.errors}
    assert "unknown kind 'Dashboard'" in fields["[0].kind"]
    assert "'Occurrences', 'Timeslices' or 'RatioTimeslices'" in fields["[1].spec.budgetingMethod"]
    assert "less than 1" in fields["[1].spec.objectives[0].target"]
    assert fields["[1].spec.colour"] == "unknown field"


# --- The mapping ----------------------------------------------------------------------------------


def slo(
    indicator: str, *, objectives: str = "[{target: 0.99}]", budgeting: str = "Occurrences", window: str = ""
) -> str:
    window = window or "[{duration: 30d, isRolling: true}]"
    return dedent(
        f"""\
        apiVersion: openslo/v1
        kind: SLO
        metadata:
          name: my-slo
        spec:
          service: shop
          budgetingMethod: {budgeting}
          timeWindow: {window}
          objectives: {objectives}
          indicator:
            metadata:
              name: my-sli
            spec:
        """
    ) + "\n".join("      " + line for line in dedent(indicator).splitlines())


PROMETHEUS_THRESHOLD = """\
thresholdMetric:
  metricSource:
    type: Prometheus
    spec:
      query: max(kafka_consumergroup_lag)
"""


def test_a_threshold_metric_is_a_value_sli_budgeted_by_time_slices() -> None:
    result = imported(
        slo(PROMETHEUS_THRESHOLD, objectives="[{op: lte, value: 500, target: 0.95, timeSliceWindow: 5m}]")
    )
    [spec] = only_document(result).slos
    assert spec.model_dump(mode="json", exclude_defaults=True)["sli"] == {
        "kind": "freshness",
        "source": "prometheus",
        "prometheus": {"value": "max(kafka_consumergroup_lag)"},
    }
    assert spec.objectives is not None
    assert (spec.objectives[0].op, spec.objectives[0].value) == ("lte", 500)
    assert spec.budgeting == "timeslices"
    assert spec.time_slice is not None
    assert spec.time_slice.window == "5m"
    messages = " ".join(warning.message for warning in result.warnings)
    assert "imported as a freshness SLI" in messages
    assert "imported with Timeslices budgeting, not Occurrences" in messages


def test_a_threshold_objective_needs_a_value() -> None:
    result = imported(slo(PROMETHEUS_THRESHOLD, objectives="[{op: lte, target: 0.95}]"))
    assert [(e.field, e.message) for e in result.errors] == [
        ("spec.objectives[0].value", "an objective of a thresholdMetric needs op and value")
    ]


@pytest.mark.parametrize(
    ("raw_type", "expected"),
    [("success", "avg(job:success_ratio)"), ("failure", "1 - (avg(job:success_ratio))")],
)
def test_a_raw_ratio_becomes_the_share_of_good_events(raw_type: str, expected: str) -> None:
    indicator = f"""\
    ratioMetric:
      rawType: {raw_type}
      raw:
        metricSource:
          type: Prometheus
          spec:
            query: avg(job:success_ratio)
    """
    [spec] = only_document(imported(slo(indicator))).slos
    assert spec.sli.kind is SliKind.ERROR_RATE
    assert spec.sli.prometheus is not None
    assert spec.sli.prometheus.value == expected


def test_histogram_bucket_queries_become_a_latency_sli() -> None:
    indicator = """\
    ratioMetric:
      counter: false
      good:
        metricSource:
          type: Prometheus
          spec:
            query: sum(increase(http_request_duration_seconds_bucket{le="0.25"}[{{.window}}]))
      total:
        metricSource:
          type: Prometheus
          spec:
            query: sum(increase(http_request_duration_seconds_count[{{.window}}]))
    """
    [spec] = only_document(imported(slo(indicator))).slos
    assert (spec.sli.kind, spec.sli.threshold_ms) == (SliKind.LATENCY, 250.0)


def test_other_data_sources_import_as_push_keeping_the_queries() -> None:
    indicator = """\
    ratioMetric:
      counter: true
      good:
        metricSource:
          type: Datadog
          spec:
            query: sum:hits{status:200}.as_count()
      total:
        metricSource:
          type: Datadog
          spec:
            query: sum:hits{*}.as_count()
    """
    result = imported(slo(indicator))
    [spec] = only_document(result).slos
    assert spec.sli.source is Source.PUSH
    assert spec.sli.prometheus is None
    assert 'good from Datadog: {"query": "sum:hits{status:200}.as_count()"}' in spec.description
    assert any("cannot read Datadog data sources" in warning.message for warning in result.warnings)


@pytest.mark.parametrize(
    ("duration", "unit"), [("1d", "day"), ("1w", "week"), ("1M", "month"), ("1Q", "quarter")]
)
def test_calendar_windows(duration: str, unit: str) -> None:
    window = f"[{{duration: {duration}, isRolling: false, calendar: {{startTime: '2024-01-01 00:00:00', timeZone: Asia/Tokyo}}}}]"
    result = imported(
        slo(
            PROMETHEUS_THRESHOLD.replace("max", "sum"),
            objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 1h}]",
            budgeting="Timeslices",
            window=window,
        )
    )
    [spec] = only_document(result).slos
    assert spec.window.model_dump() == {"calendar": unit, "time_zone": "Asia/Tokyo"}  # type: ignore[union-attr]
    assert not any("startTime" in warning.message for warning in result.warnings)


@pytest.mark.parametrize(
    ("window", "field", "message"),
    [
        (
            "[{duration: 1Y, isRolling: false, calendar: {startTime: '2024-01-01 00:00:00', timeZone: UTC}}]",
            "spec.timeWindow[0].duration",
            "calendar windows of 1Y are not supported",
        ),
        (
            "[{duration: 2w, isRolling: false, calendar: {startTime: '2024-01-01 00:00:00', timeZone: UTC}}]",
            "spec.timeWindow[0].duration",
            "calendar windows of 2w are not supported",
        ),
        ("[{duration: 1w, isRolling: false}]", "spec.timeWindow[0]", "needs calendar"),
        ("[{duration: 30x, isRolling: true}]", "spec.timeWindow[0].duration", "invalid duration '30x'"),
        (
            "[{duration: 1w, isRolling: false, calendar: {startTime: 'soon', timeZone: UTC}}]",
            "spec.timeWindow[0].calendar.startTime",
            "invalid startTime 'soon'",
        ),
    ],
)
def test_unsupported_windows_are_rejected_clearly(window: str, field: str, message: str) -> None:
    result = imported(
        slo(PROMETHEUS_THRESHOLD, objectives="[{op: lt, value: 1, target: 0.9}]", window=window)
    )
    assert result.documents == []
    assert any(error.field == field and message in error.message for error in result.errors), result.errors


def test_an_unknown_time_zone_is_rejected_by_the_native_rules() -> None:
    window = "[{duration: 1M, isRolling: false, calendar: {startTime: '2024-01-01 00:00:00', timeZone: Mars/Olympus}}]"
    result = imported(
        slo(
            PROMETHEUS_THRESHOLD,
            objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 1h}]",
            budgeting="Timeslices",
            window=window,
        )
    )
    assert result.documents == []
    assert "unknown time zone 'Mars/Olympus'" in result.errors[0].message


def test_rolling_months_become_days_and_a_missing_window_is_30_days() -> None:
    result = imported(
        slo(
            PROMETHEUS_THRESHOLD,
            objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 1h}]",
            budgeting="Timeslices",
            window="[{duration: 1M, isRolling: true}]",
        )
    )
    assert only_document(result).slos[0].window == "30d"
    assert any("imported as 30d" in warning.message for warning in result.warnings)
    no_window = slo(
        PROMETHEUS_THRESHOLD,
        objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 1h}]",
        budgeting="Timeslices",
    ).replace("  timeWindow: [{duration: 30d, isRolling: true}]\n", "")
    assert only_document(imported(no_window)).slos[0].window == "30d"


def test_several_objectives_keep_their_names_and_targets() -> None:
    indicator = PROMETHEUS_THRESHOLD
    objectives = "[{displayName: Fast Enough, op: lte, value: 100, target: 0.9}, {op: lte, value: 500, targetPercent: 99}]"
    [spec] = only_document(
        imported(
            slo(indicator, objectives=objectives, budgeting="Timeslices")
            .replace("target: 0.9}", "target: 0.9, timeSliceWindow: 1m}")
            .replace("targetPercent: 99}", "targetPercent: 99, timeSliceWindow: 1m}")
        )
    ).slos
    assert spec.objectives is not None
    assert [(o.name, o.target, o.target_percent, o.value) for o in spec.objectives] == [
        ("fast-enough", 0.9, None, 100),
        ("objective-2", None, 99, 500),
    ]


def test_objectives_with_different_time_slices_are_rejected() -> None:
    objectives = "[{displayName: a, op: lte, value: 1, target: 0.9, timeSliceWindow: 1m}, {displayName: b, op: lte, value: 2, target: 0.9, timeSliceWindow: 5m}]"
    result = imported(slo(PROMETHEUS_THRESHOLD, objectives=objectives, budgeting="Timeslices"))
    assert [error.message for error in result.errors] == [
        "every objective must have the same timeSliceWindow: mlslo has one slice length per SLO"
    ]


def test_composite_slos_are_not_supported() -> None:
    text = slo(PROMETHEUS_THRESHOLD, objectives="[{op: lt, value: 1, target: 0.9, indicatorRef: other}]")
    result = imported(text)
    assert any(
        "composite SLOs" in error.message and error.field == "spec.objectives[0]" for error in result.errors
    )


def test_alert_policies_that_never_alert_on_breach_turn_alerts_off() -> None:
    policy = """\
      alertPolicies:
        - kind: AlertPolicy
          metadata: {name: quiet}
          spec:
            alertWhenNoData: true
            conditions:
              - kind: AlertCondition
                metadata: {name: slow-burn}
                spec: {severity: warning, condition: {kind: burnrate, op: gte, threshold: 1, lookbackWindow: 3d}}
            notificationTargets:
              - kind: AlertNotificationTarget
                metadata: {name: mail}
                spec: {target: email}
    """
    text = slo(
        PROMETHEUS_THRESHOLD,
        objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 1m}]",
        budgeting="Timeslices",
    )
    text = text.replace(
        "  indicator:\n",
        dedent(policy).replace("alertPolicies", "  alertPolicies", 1).replace("\n  ", "\n    ")
        + "  indicator:\n",
        1,
    )
    [spec] = only_document(imported(text)).slos
    assert (spec.alerting.page, spec.alerting.ticket) == (False, False)
    assert (
        "OpenSLO alert policy quiet (when no data): slow-burn [warning]: burn rate gte 1 over 3d; notify mail (email)."
        in spec.description
    )


def test_the_phase_comes_from_the_annotation_or_the_default() -> None:
    text = slo(
        PROMETHEUS_THRESHOLD,
        objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 1m}]",
        budgeting="Timeslices",
    )
    assert only_document(imported(text, phase=Phase.CONCEPT)).phase is Phase.CONCEPT
    annotated = text.replace(
        "  name: my-slo\n", "  name: my-slo\n  annotations:\n    mlslo.dev/phase: technical_validation\n"
    )
    assert only_document(imported(annotated, phase=Phase.CONCEPT)).phase is Phase.TECHNICAL_VALIDATION
    wrong = annotated.replace("technical_validation", "beta")
    assert "unknown phase 'beta'" in imported(wrong).errors[0].message


def test_unknown_mlslo_annotations_are_errors() -> None:
    text = slo(
        PROMETHEUS_THRESHOLD,
        objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 1m}]",
        budgeting="Timeslices",
    )
    text = text.replace(
        "  name: my-slo\n",
        "  name: my-slo\n  annotations:\n    mlslo.dev/phasse: concept\n    example.com/other: kept\n",
    )
    [error] = imported(text).errors
    assert (error.field, error.message) == (
        "metadata.annotations.mlslo.dev/phasse",
        "unknown mlslo annotation (did you mean 'phase'?)",
    )


def test_two_different_slos_with_one_name_in_one_system_are_rejected() -> None:
    first = slo(
        PROMETHEUS_THRESHOLD,
        objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 1m}]",
        budgeting="Timeslices",
    )
    second = first.replace("target: 0.9", "target: 0.8")
    result = imported(first, second)
    assert result.documents == []
    assert "already defined differently at file0.yaml:1" in result.errors[0].message


def test_a_slo_that_breaks_a_native_rule_is_rejected_at_its_place() -> None:
    text = slo(
        PROMETHEUS_THRESHOLD,
        objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 7m}]",
        budgeting="Timeslices",
    )
    [error] = imported(text).errors
    assert (error.file, error.line, error.field) == ("file0.yaml", 1, "")
    assert error.message.startswith("SLO 'my-slo' cannot be imported: time_slice.window: ")
    assert "whole number of slices" in error.message


# --- One OpenSLO file in a definitions folder -----------------------------------------------------


def test_an_openslo_file_in_a_definitions_folder() -> None:
    text = slo(
        PROMETHEUS_THRESHOLD,
        objectives="[{op: lt, value: 1, target: 0.9, timeSliceWindow: 1m}]",
        budgeting="Timeslices",
    )
    document, errors = openslo_file_to_native("shop/technical_validation.yaml", text)
    assert errors == []
    assert document is not None
    assert (document.system, document.phase, [s.name for s in document.slos]) == (
        "shop",
        Phase.TECHNICAL_VALIDATION,
        ["my-slo"],
    )

    document, errors = openslo_file_to_native("checkout/production.yaml", text)
    assert document is None
    assert "this file is checkout/production, but it defines shop/production" in errors[0].message

    document, errors = openslo_file_to_native("shop/beta.yaml", text)
    assert document is None
    assert "is not a phase" in errors[0].message

    services_only = source(OPENSLO / "valid" / "two_documents.yaml")[1].replace("users-login", "users-auth")
    document, errors = openslo_file_to_native("users-auth/concept.yaml", services_only)
    assert errors == []
    assert document is not None
    assert (document.system, document.phase, document.slos) == ("users-auth", Phase.CONCEPT, [])

    document, errors = openslo_file_to_native(
        "shop/production.yaml", source(OPENSLO / "invalid" / "v1_slo_invalid_sli.yaml")[1]
    )
    assert document is None
    assert "no-sli" in errors[0].message


# --- Export and round trips -----------------------------------------------------------------------


def round_trip(documents: list[SloSetDocument]) -> ImportResult:
    return import_openslo([("export.yaml", export_openslo(documents))], phase=Phase.CONCEPT)


def by_key(documents: list[SloSetDocument]) -> dict[tuple[str | None, Phase | None], dict[str, Any]]:
    return {(document.system, document.phase): document.model_dump() for document in documents}


def example_documents() -> list[SloSetDocument]:
    result = load_path(Path(migrations.PROJECT_ROOT) / "slo_definitions")
    assert result.errors == []
    assert result.files, "slo_definitions/ has no example definitions"
    return [
        SloSetDocument.model_validate(
            {"apiVersion": "mlslo/v1", "kind": "SLOSet", "system": f.system, "phase": f.phase, "slos": f.slos}
        )
        for f in result.files
    ]


def test_every_example_definition_survives_export_and_import() -> None:
    documents = example_documents()
    result = round_trip(documents)
    assert result.errors == []
    assert result.warnings == []
    assert by_key(result.documents) == by_key(documents)


def test_each_example_file_survives_export_and_import_on_its_own() -> None:
    for document in example_documents():
        result = round_trip([document])
        assert result.errors == []
        assert by_key(result.documents) == by_key([document]), f"{document.system}/{document.phase}"


HAND_BUILT = """\
apiVersion: mlslo/v1
kind: SLOSet
system: shop
phase: production
slos:
  - name: api-latency
    description: Requests within 300 ms
    owner: service
    runbook_url: https://runbooks.example.com/latency
    sli: {kind: latency, source: prometheus, threshold_ms: 300, prometheus: {good: 'sum(increase(le_300[{{.window}}]))', total: 'sum(increase(all[{{.window}}]))'}}
    objective: 0.99
    budgeting: occurrences
    window: 4w
    alerting: {min_events: 50, page: false}
    exclusions:
      - {reason: weekly maintenance, start: '2026-01-04T02:00:00Z', duration: 2h, rrule: FREQ=WEEKLY;BYDAY=SU}
  - name: api-latency-probe
    sli: {kind: latency, source: http_probe, http_probe: {url: 'https://shop.example.com/health', method: HEAD, expected_status: [200, 204], timeout: 2s}}
    objectives: [{name: fast, target: 0.9, value: 200, op: lte}, {name: ok, target_percent: 99.5, value: 1000}]
    window: {rolling: 7d}
  - name: api-availability
    sli: {kind: error_rate, source: prometheus, prometheus: {value: 'avg_over_time(up[{{.window}}])'}}
    objective_percent: 99.9
    budgeting: ratio_timeslices
    time_slice: {window: 120s}
    window: 3600s
  - name: checkout-errors
    sli: {kind: error_rate, source: sql, sql: {connection_env: SHOP_DB_URL, query: 'SELECT good, total FROM checkout_counts'}}
    objectives: [{target: 0.995}]
    budgeting: timeslices
    time_slice: {window: 5m, target: 0.9}
    window: {calendar: month, time_zone: Europe/Paris}
  - name: nightly-job
    sli: {kind: job_success, source: push, job: nightly-build, collect_every: 1d}
    objective: 0.9
    window: {calendar: quarter}
    alerting: {max_bad_events: 2, ticket: false}
  - name: nightly-throughput
    sli: {kind: job_throughput, source: push, job: nightly-build}
    objectives: [{target: 0.9, value: 2000}]
    window: 28d
  - name: catalogue-freshness
    sli: {kind: freshness, source: prometheus, job: nightly-build, prometheus: {value: 'time() - max(last_success)'}}
    objectives: [{target: 0.98, value: 108000}]
    time_slice: {window: 1h}
    window: {calendar: week, time_zone: Asia/Tokyo}
  - name: ranking-accuracy
    owner: model
    sli: {kind: classification_quality, source: sql, metric: accuracy, sql: {connection_env: LABELS_URL, query: 'SELECT good, total FROM labelled', timeout: 30s}}
    objective: 0.8
    window: 30d
  - name: ranking-f1
    sli: {kind: classification_quality, source: evidently, metric: f1, evidently: {reference: {path: ref.parquet}, columns: [a, b], sample_size: 1000}}
    objectives: [{target: 0.9, value: 0.7}]
    budgeting: timeslices
    time_slice: {window: 1d}
    window: {calendar: day}
  - name: price-within-tolerance
    sli: {kind: regression_error, source: push, metric: within_tolerance, tolerance: 0.5}
    objective: 0.9
    window: 14d
  - name: price-mae
    sli: {kind: regression_error, source: push}
    objectives: [{target: 0.95, value: 3.5}]
    time_slice: {window: 1h}
    window: 14d
  - name: price-bias
    sli: {kind: prediction_bias, source: sql, sql: {connection_env: LABELS_URL, query: SELECT value FROM bias}}
    objectives: [{target: 0.95, value: 0.1}]
    time_slice: {window: 1d}
    window: 30d
  - name: price-drift
    sli: {kind: data_drift, source: evidently, metric: column_score, column: price, evidently: {reference: {query: SELECT * FROM ref, connection_env: REF_URL}, method: wasserstein, threshold: 0.1}}
    objectives: [{target: 0.9, value: 0.1, op: lt}]
    time_slice: {window: 1d}
    window: 30d
  - name: input-quality
    sli: {kind: data_quality, source: push, metric: valid_rows}
    objective: 0.99
    budgeting: ratio_timeslices
    time_slice: {window: 10m}
    window: 7d
  - name: noise-robustness
    sli: {kind: robustness, source: http_probe, noise_sigma: 0.5, http_probe: {url: 'https://ml.example.com/predict', method: POST, holdout: {path: holdout.csv}}}
    objectives: [{target: 0.9, value: 0.95}]
    time_slice: {window: 1d}
    window: 28d
  - name: retrain-churn
    sli: {kind: retrain_stability, source: push, metric: negative_flip_rate}
    objectives: [{target: 0.9, value: 0.02}]
    time_slice: {window: 1d}
    window: 90d
  - name: model-age
    description: "A description longer than OpenSLO allows. DESCRIPTION"
    sli: {kind: model_staleness, source: prometheus, prometheus: {value: 'time() - model_trained_timestamp'}}
    objectives: [{target: 0.99, value: 691200}]
    time_slice: {window: 1h}
    window: 30d
"""


def hand_built() -> list[SloSetDocument]:
    production = yaml.safe_load(HAND_BUILT.replace("DESCRIPTION", "x" * 1200))
    production["slos"][-1]["description"] += "\nwith a second line"
    concept = {
        "apiVersion": "mlslo/v1",
        "kind": "SLOSet",
        "system": "shop",
        "phase": "concept",
        "slos": production["slos"][:2],
    }
    other = {
        "apiVersion": "mlslo/v1",
        "kind": "SLOSet",
        "system": "search-ranking-with-a-rather-long-system-name",
        "phase": "technical_validation",
        "slos": production["slos"][2:4],
    }
    empty = {"apiVersion": "mlslo/v1", "kind": "SLOSet", "system": "idea", "phase": "concept", "slos": []}
    documents = [SloSetDocument.model_validate(item) for item in (production, concept, other, empty)]
    for document in documents:
        assert semantic_problems(document, None) == []
    return documents


def test_the_hand_built_specs_cover_every_sli_kind_and_source() -> None:
    slos = [spec for document in hand_built() for spec in document.slos]
    assert {spec.sli.kind for spec in slos} == set(SliKind)
    assert {spec.sli.source for spec in slos} == set(Source)


def test_hand_built_specs_survive_export_and_import() -> None:
    documents = hand_built()
    result = round_trip(documents)
    assert result.errors == []
    assert result.warnings == []
    assert by_key(result.documents) == by_key(documents)


def test_the_export_is_openslo_v1_with_our_extensions_in_annotations() -> None:
    text = export_openslo(hand_built())
    objects = list(yaml.safe_load_all(text))
    assert [o["kind"] for o in objects[:3]] == ["Service", "Service", "Service"]
    assert objects[0]["metadata"] == {
        "name": "shop",
        "annotations": {"mlslo.dev/phases": "production,concept"},
    }
    slos = [o for o in objects if o["kind"] == "SLO"]
    assert len(slos) == 17 + 2 + 2
    names = [o["metadata"]["name"] for o in slos]
    assert len(set(names)) == len(names)
    for obj in slos:
        assert obj["apiVersion"] == "openslo/v1"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", obj["metadata"]["name"])
        assert all(key.startswith(ANNOTATION_PREFIX) for key in obj["metadata"]["annotations"])
        assert all(isinstance(value, str) for value in obj["metadata"]["annotations"].values())
        assert len(obj["spec"].get("description", "")) <= 1050
        assert obj["spec"]["budgetingMethod"] in ("Occurrences", "Timeslices", "RatioTimeslices")
        [window] = obj["spec"]["timeWindow"]
        assert re.fullmatch(r"\d+[mhdwMQY]", window["duration"])
    latency = slos[0]
    assert latency["metadata"]["name"] == "shop-production-api-latency"
    assert latency["spec"]["indicator"]["spec"]["ratioMetric"]["good"] == {
        "metricSource": {"type": "Prometheus", "spec": {"query": "sum(increase(le_300[{{.window}}]))"}}
    }
    annotations = latency["metadata"]["annotations"]
    assert annotations["mlslo.dev/phase"] == "production"
    assert annotations["mlslo.dev/sli-kind"] == "latency"
    assert annotations["mlslo.dev/alerting"] == '{"min_events": 50, "page": false}'
    assert '"rrule": "FREQ=WEEKLY;BYDAY=SU"' in annotations["mlslo.dev/exclusions"]
    availability = slos[2]
    assert availability["spec"]["timeWindow"] == [{"duration": "60m", "isRolling": True}]
    assert availability["spec"]["objectives"] == [{"targetPercent": 99.9, "timeSliceWindow": "2m"}]
    calendar = slos[3]["spec"]["timeWindow"][0]
    assert calendar == {
        "duration": "1M",
        "isRolling": False,
        "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Paris"},
    }


def test_exporting_a_document_without_a_system_is_refused() -> None:
    document = SloSetDocument.model_validate({"apiVersion": "mlslo/v1", "kind": "SLOSet", "slos": []})
    with pytest.raises(ValueError, match="must name its system"):
        export_openslo([document])


# --- Helpers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1 - (a / b)", "a / b"),
        ("1-(x)", "x"),
        ("1 - (a) / (b)", "1 - (1 - (a) / (b))"),
        ("sum(errors)", "1 - (sum(errors))"),
    ],
)
def test_complement_ratio_query(query: str, expected: str) -> None:
    assert complement_ratio_query(query) == expected


@pytest.mark.parametrize(
    ("queries", "expected"),
    [
        (['sum(rate(x_seconds_bucket{le="0.4",verb!="WATCH"}[5m]))'], 400.0),
        (['sum(rate(x_milliseconds_bucket{le="250"}[5m]))'], 250.0),
        (['a_seconds_bucket{le="0.1"}', 'a_seconds_bucket{le="0.2"}'], None),
        (['x_bytes_bucket{le="100"}'], None),
        (["sum(rate(errors[5m]))"], None),
    ],
)
def test_guess_latency_threshold(queries: list[str], expected: float | None) -> None:
    assert guess_latency_threshold_ms(queries) == expected


def test_slugify() -> None:
    assert slugify("Example Service") == "example-service"
    assert slugify("  --  ") == ""
    assert len(slugify("x" * 100)) == 63
