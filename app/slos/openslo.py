"""OpenSLO v1 import and export, and the pieces every importer shares (reading multi-document YAML
with lines, reporting problems, assembling and printing native `mlslo/v1` documents).

Import reads a batch of files at once, because objects in one file refer to objects in another by
name. Every problem is collected; when there is any, nothing is produced. What OpenSLO cannot hold of
our definitions travels in `metadata.annotations` under the `mlslo.dev/` prefix, so that export →
import gives back the same SLOs. The mapping is documented in docs/import-export.md."""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import PurePosixPath
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, SequenceNode

from app.core.sli_catalog import BudgetingMethod, Measure, SliKind, Source, kind_info
from app.core.windows import parse_window
from app.slos.definition import (
    API_VERSION,
    CalendarWindow,
    RollingWindow,
    SloSetDocument,
    SloSpec,
    semantic_problems,
)
from app.slos.loader import Place, SloFile, SloFileError, format_field, index_places
from app.systems.models import Phase

OPENSLO_API_VERSION = "openslo/v1"
ANNOTATION_PREFIX = "mlslo.dev/"
DEFAULT_WINDOW = "30d"
OPENSLO_KINDS = (
    "Service",
    "SLO",
    "SLI",
    "DataSource",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
)
# Our annotations, without the prefix. Anything else under `mlslo.dev/` is a mistake.
ANNOTATIONS = (
    "system",
    "phase",
    "phases",
    "slo",
    "description",
    "sli-kind",
    "source",
    "metric",
    "sli-parameters",
    "source-config",
    "owner",
    "runbook-url",
    "alerting",
    "exclusions",
    "budgeting",
    "objective-form",
    "window-form",
    "durations",
)
# The metricSource type our export writes for sources that are not Prometheus.
MLSLO_SOURCE_TYPE = "mlslo"
# OpenSLO's calendar durations that name one of our calendar units.
CALENDAR_DURATIONS = {"1d": "day", "1w": "week", "1M": "month", "1Q": "quarter"}
# The startTime our export writes: a Monday, the 1st of a month and of a quarter, at midnight.
ALIGNED_START = "2024-01-01 00:00:00"
# Lengths the OpenSLO Go SDK gives months, quarters and years (for rolling windows only).
ROLLING_UNIT_DAYS = {"M": 30, "Q": 90, "Y": 365}
# Alert condition severities that mean "page"; any other severity is a ticket.
PAGE_SEVERITIES = frozenset({"page", "paging", "critical", "urgent", "high", "p1", "sev1", "sev-1"})
OPENSLO_DESCRIPTION_LIMIT = 1050
NATIVE_DESCRIPTION_LIMIT = 5000
SLI_PARAMETERS = (
    "threshold_ms",
    "job",
    "column",
    "tolerance",
    "noise_sigma",
    "collect_every",
    "missing_data",
    "positive_label",
    "stability_metric",
    "last_versions",
)
SOURCE_BLOCKS = {Source.SQL: "sql", Source.HTTP_PROBE: "http_probe", Source.EVIDENTLY: "evidently"}
WINDOW_PLACEHOLDER = "{{.window}}"
MAX_EXPANDED_NODES = 100_000

FieldPath = tuple[str | int, ...]
ModelT = TypeVar("ModelT", bound=BaseModel)


# --------------------------------------------------------------------------------------------------
# Shared by the importers: results, YAML with lines, problem reports, native documents.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """Native documents (one per system and phase), or none at all when there is any error."""

    documents: list[SloSetDocument]
    errors: list[SloFileError]
    warnings: list[SloFileError]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class YamlDocument:
    """One YAML document of a file, with the line of every key and list item."""

    file: str
    data: Any
    places: dict[FieldPath, Place]

    def place_of(self, path: FieldPath) -> Place | None:
        # A missing field has no place of its own: report the nearest enclosing one that exists.
        while path not in self.places:
            if not path:
                return None
            path = path[:-1]
        return self.places[path]

    def line_of(self, path: FieldPath) -> int | None:
        place = self.place_of(path)
        return None if place is None else place.key_line


@dataclass(frozen=True)
class Location:
    document: YamlDocument
    path: FieldPath

    def child(self, *parts: str | int) -> Location:
        return Location(self.document, (*self.path, *parts))


@dataclass
class Diagnostics:
    errors: list[SloFileError] = field(default_factory=list)
    warnings: list[SloFileError] = field(default_factory=list)

    def error(self, at: Location, message: str) -> None:
        self.errors.append(self._entry(at, message))

    def warn(self, at: Location, message: str) -> None:
        self.warnings.append(self._entry(at, message))

    def file_error(self, file: str, message: str, line: int | None = None) -> None:
        self.errors.append(SloFileError(file=file, line=line, field="", message=message))

    def file_warning(self, file: str, message: str) -> None:
        self.warnings.append(SloFileError(file=file, line=None, field="", message=message))

    def validation_errors(self, at: Location, exc: ValidationError) -> None:
        for error in exc.errors(include_url=False, include_input=False):
            self.error(at.child(*error["loc"]), _pydantic_message(error))

    @staticmethod
    def _entry(at: Location, message: str) -> SloFileError:
        place = at.document.place_of(at.path)
        return SloFileError(
            file=at.document.file,
            line=None if place is None else place.key_line,
            field=format_field(at.path),
            message=message,
            column=None if place is None else place.key_column,
        )

    def result(self, documents: list[SloSetDocument]) -> ImportResult:
        errors = list(dict.fromkeys(self.errors))
        return ImportResult(
            documents=[] if errors else documents,
            errors=errors,
            warnings=list(dict.fromkeys(self.warnings)),
        )


def _pydantic_message(error: ErrorDetails) -> str:
    error_type = error["type"]
    context = error.get("ctx", {})
    if error_type == "missing":
        return "required field is missing"
    if error_type == "extra_forbidden":
        return "unknown field"
    if error_type == "value_error" and "error" in context:
        return str(context["error"])
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a mapping of fields"
    if error_type == "list_type":
        return "expected a list"
    return error["msg"]


def read_yaml_documents(display_path: str, text: str, diagnostics: Diagnostics) -> list[YamlDocument]:
    """Every document of a (possibly multi-document) YAML file; YAML errors go to `diagnostics`."""
    try:
        # The reader rejects control characters as soon as it is built, so this is inside the try.
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        reader_line = text.count("\n", 0, exc.position) + 1
        diagnostics.file_error(display_path, f"invalid YAML: {exc.reason}", reader_line)
        return []
    documents: list[YamlDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if _expanded_size(node) > MAX_EXPANDED_NODES:
                diagnostics.file_error(
                    display_path,
                    f"a YAML document is too large once its aliases are expanded (over {MAX_EXPANDED_NODES} "
                    "values), or refers to itself",
                    node.start_mark.line + 1,
                )
                return []
            data = loader.construct_document(node)
            places, duplicate_keys = index_places(display_path, node)
            diagnostics.errors.extend(duplicate_keys)
            documents.append(YamlDocument(display_path, data, places))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        diagnostics.file_error(display_path, f"invalid YAML: {exc.problem or exc}", line)
        return []
    except yaml.YAMLError as exc:
        diagnostics.file_error(display_path, f"invalid YAML: {exc}")
        return []
    finally:
        loader.dispose()
    return documents


def _expanded_size(root: Node) -> int:
    """How many values the document holds once aliases are expanded (capped just above the limit), so
    that an alias bomb or a self-referring document is refused before anything walks it."""
    sizes: dict[int, int] = {}

    def size(node: Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = MAX_EXPANDED_NODES + 1  # a node reached again while being counted is a cycle
        children: list[Node] = []
        if isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                break
        sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
        return sizes[id(node)]

    return size(root)


def validate_model(model: type[ModelT], data: Any, at: Location, diagnostics: Diagnostics) -> ModelT | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        diagnostics.validation_errors(at, exc)
        return None


def slugify(text: str) -> str:
    """A native name (lowercase letters, digits and dashes, at most 63) made from any text."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:63].rstrip("-")


def native_spec(raw: dict[str, Any], at: Location, what: str, diagnostics: Diagnostics) -> SloSpec | None:
    """Validate one converted SLO as `mlslo/v1`: its fields and every rule across them (the phase's
    rules are left to whoever applies it). Problems point at the source object."""
    try:
        spec = SloSpec.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            place = format_field(tuple(error["loc"]))
            diagnostics.error(at, f"{what} cannot be imported: {place}: {_pydantic_message(error)}")
        return None
    document = SloSetDocument.model_validate({"apiVersion": API_VERSION, "kind": "SLOSet", "slos": [spec]})
    problems = semantic_problems(document, None)
    for problem in problems:
        place = format_field(problem.path[2:])
        diagnostics.error(at, f"{what} cannot be imported: {place}: {problem.message}")
    return None if problems else spec


@dataclass
class NativeCollector:
    """Converted SLOs grouped into one document per system and phase."""

    groups: dict[tuple[str, Phase], list[tuple[SloSpec, Location]]] = field(default_factory=dict)
    origins: dict[str, Location] = field(default_factory=dict)

    def ensure(self, system: str, phase: Phase, at: Location) -> None:
        self.groups.setdefault((system, phase), [])
        self.origins.setdefault(system, at)

    def has_system(self, system: str) -> bool:
        return any(key[0] == system for key in self.groups)

    def add(self, system: str, phase: Phase, spec: SloSpec, at: Location, diagnostics: Diagnostics) -> None:
        self.ensure(system, phase, at)
        entries = self.groups[(system, phase)]
        for existing, existing_at in entries:
            if existing.name != spec.name:
                continue
            first = _describe_location(existing_at)
            if existing == spec:
                diagnostics.warn(
                    at,
                    f"SLO {spec.name!r} of {system}/{phase.value} is also defined at {first}, identically: imported once",
                )
            else:
                diagnostics.error(
                    at,
                    f"SLO {spec.name!r} of {system}/{phase.value} is already defined differently at {first}; "
                    "SLO names must be unique within a system and phase",
                )
            return
        entries.append((spec, at))

    def documents(self, diagnostics: Diagnostics) -> list[SloSetDocument]:
        phase_order = list(Phase)
        documents: list[SloSetDocument] = []
        for system, phase in sorted(self.groups, key=lambda key: (key[0], phase_order.index(key[1]))):
            entries = self.groups[(system, phase)]
            document = SloSetDocument.model_validate(
                {
                    "apiVersion": API_VERSION,
                    "kind": "SLOSet",
                    "system": system,
                    "phase": phase,
                    "slos": [spec for spec, _ in entries],
                }
            )
            if phase is Phase.PRODUCTION and entries:
                # The production rules (a conventional and an ML SLI) are the applier's to enforce:
                # imports from tools without ML SLIs would otherwise never succeed.
                for problem in semantic_problems(document, phase):
                    if problem.path == ("slos",):
                        diagnostics.warn(
                            entries[0][1],
                            f"{system}/production: {problem.message}; add one before applying, "
                            "or import with --phase technical_validation",
                        )
            documents.append(document)
        return documents


def _describe_location(at: Location) -> str:
    line = at.document.line_of(at.path)
    return at.document.file if line is None else f"{at.document.file}:{line}"


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings (queries, descriptions) as `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _represent_str)


def dump_yaml_documents(documents: Iterable[Any]) -> str:
    return "---\n".join(
        # No wrapping: a query folded over lines is valid YAML, but harder to read and to copy.
        yaml.dump(document, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True, width=1_000_000)
        for document in documents
    )


def render_native(documents: Iterable[SloSetDocument]) -> str:
    """Native YAML, one document per system and phase, leaving out defaults and empty fields."""
    return dump_yaml_documents(
        document.model_dump(mode="json", by_alias=True, exclude_defaults=True) for document in documents
    )


def complement_ratio_query(query: str) -> str:
    """PromQL for one minus a ratio query; `1 - (x)` gives back `x` rather than `1 - (1 - (x))`."""
    text = query.strip()
    opening = re.match(r"^1\s*-\s*\(", text)
    if opening is not None and text.endswith(")"):
        depth = 0
        for position in range(opening.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[position], 0)
            if depth == 0:
                if position == len(text) - 1:
                    return text[opening.end() : -1].strip()
                break
    return f"1 - ({text})"


_BUCKET_THRESHOLD = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)_bucket\s*\{[^}]*?\ble\s*=\s*\"([^\"]+)\"")


def guess_latency_threshold_ms(queries: Iterable[str]) -> float | None:
    """The latency threshold of event queries that count histogram buckets up to one `le`, such as
    `..._seconds_bucket{le="0.4"}` (400 ms); None when the queries are not of that shape."""
    found: set[float] = set()
    for query in queries:
        for metric, bound in _BUCKET_THRESHOLD.findall(query):
            try:
                value = Decimal(bound)
            except InvalidOperation:
                return None
            if not value.is_finite() or value <= 0:
                return None
            if "milliseconds" in metric or metric.endswith("_ms"):
                found.add(float(value))
            elif "seconds" in metric:
                found.add(float(value * 1000))
            else:
                return None
    return found.pop() if len(found) == 1 else None


# --------------------------------------------------------------------------------------------------
# The OpenSLO v1 schema (strict: unknown fields are errors, as in the OpenSLO Go SDK).
# --------------------------------------------------------------------------------------------------


class _OpenSloModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, alias_generator=to_camel)


Operator = Literal["lt", "lte", "gt", "gte"]


class OsMetadata(_OpenSloModel):
    name: str = Field(min_length=1)
    display_name: str | None = None
    labels: dict[str, Any] | None = None
    annotations: dict[str, str] | None = None


class OsMetricSource(_OpenSloModel):
    metric_source_ref: str | None = None
    type: str | None = None
    spec: dict[str, Any] = Field(min_length=1)


class OsMetric(_OpenSloModel):
    metric_source: OsMetricSource


class OsRatioMetric(_OpenSloModel):
    counter: bool | None = None
    good: OsMetric | None = None
    bad: OsMetric | None = None
    total: OsMetric | None = None
    raw_type: Literal["success", "failure"] | None = None
    raw: OsMetric | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> OsRatioMetric:
        if self.raw is not None:
            if self.total is not None or self.good is not None or self.bad is not None:
                raise ValueError("give either raw (with rawType) or total with good or bad, not both")
            if self.raw_type is None:
                raise ValueError("raw needs rawType: success or failure")
        elif self.total is None or (self.good is None) == (self.bad is None):
            raise ValueError("give total with exactly one of good or bad, or raw with rawType")
        return self


class OsSliSpec(_OpenSloModel):
    description: str | None = None
    threshold_metric: OsMetric | None = None
    ratio_metric: OsRatioMetric | None = None

    @model_validator(mode="after")
    def _one_metric(self) -> OsSliSpec:
        if (self.threshold_metric is None) == (self.ratio_metric is None):
            raise ValueError("give exactly one of thresholdMetric or ratioMetric")
        return self


class OsCalendar(_OpenSloModel):
    start_time: str | datetime | date
    time_zone: str


class OsTimeWindow(_OpenSloModel):
    duration: str
    is_rolling: bool | None = None
    calendar: OsCalendar | None = None


class OsObjective(_OpenSloModel):
    display_name: str | None = None
    op: Operator | None = None
    value: float | None = None
    target: float | None = Field(default=None, ge=0, lt=1)
    target_percent: float | None = Field(default=None, ge=0, lt=100)
    time_slice_target: float | None = Field(default=None, gt=0, le=1)
    time_slice_window: str | int | None = None
    indicator: dict[str, Any] | None = None
    indicator_ref: str | None = None
    composite_weight: float | None = None

    @model_validator(mode="after")
    def _one_target(self) -> OsObjective:
        if (self.target is None) == (self.target_percent is None):
            raise ValueError("give exactly one of target or targetPercent")
        return self


class OsSloSpec(_OpenSloModel):
    description: str | None = None
    service: str = Field(min_length=1)
    indicator: Any = None
    indicator_ref: str | None = None
    budgeting_method: Literal["Occurrences", "Timeslices", "RatioTimeslices"]
    time_window: list[OsTimeWindow] | None = None
    objectives: list[OsObjective] = Field(min_length=1)
    alert_policies: list[Any] | None = None


class OsServiceSpec(_OpenSloModel):
    description: str | None = None


class OsDataSourceSpec(_OpenSloModel):
    description: str | None = None
    type: str = Field(min_length=1)
    connection_details: Any


class OsCondition(_OpenSloModel):
    kind: Literal["burnrate"] = "burnrate"
    op: Operator | None = None
    threshold: float
    lookback_window: str
    alert_after: str | None = None


class OsAlertConditionSpec(_OpenSloModel):
    description: str | None = None
    severity: str = Field(min_length=1)
    condition: OsCondition


class OsAlertNotificationTargetSpec(_OpenSloModel):
    description: str | None = None
    target: str = Field(min_length=1)


class OsAlertPolicySpec(_OpenSloModel):
    description: str | None = None
    alert_when_no_data: bool | None = None
    alert_when_breaching: bool | None = None
    alert_when_resolved: bool | None = None
    conditions: list[Any] = Field(min_length=1)
    notification_targets: list[Any] = Field(min_length=1)


SPEC_MODELS: dict[str, type[_OpenSloModel]] = {
    "Service": OsServiceSpec,
    "SLO": OsSloSpec,
    "SLI": OsSliSpec,
    "DataSource": OsDataSourceSpec,
    "AlertPolicy": OsAlertPolicySpec,
    "AlertCondition": OsAlertConditionSpec,
    "AlertNotificationTarget": OsAlertNotificationTargetSpec,
}
REFERENCE_KEYS = {
    "SLI": "indicatorRef",
    "AlertPolicy": "alertPolicyRef",
    "AlertCondition": "conditionRef",
    "AlertNotificationTarget": "targetRef",
}


@dataclass(frozen=True)
class _Ref:
    """A reference by name to a top-level object of `kind`."""

    kind: str
    name: str
    at: Location


@dataclass(frozen=True)
class _Object:
    """A parsed OpenSLO object, top-level or inline. `parts` hold its inline-or-referenced children:
    an SLO's `indicator` and `alertPolicies`, an AlertPolicy's `conditions` and `notificationTargets`."""

    kind: str
    metadata: OsMetadata
    spec: Any
    at: Location
    raw: Any
    parts: dict[str, list[_Object | _Ref]] = field(default_factory=dict, compare=False)


_Part = _Object | _Ref


# --------------------------------------------------------------------------------------------------
# OpenSLO import.
# --------------------------------------------------------------------------------------------------


def import_openslo(
    sources: Sequence[tuple[str, str]],
    *,
    phase: Phase = Phase.PRODUCTION,
    check_unused_references: bool = True,
) -> ImportResult:
    """Convert a batch of OpenSLO v1 files, given as (display path, YAML text), to native documents.

    SLOs are grouped by `spec.service` (the system) and phase: the `mlslo.dev/phase` annotation, else
    `phase`. Every reference must resolve to an object of the batch; with `check_unused_references`
    off, dangling references inside objects that no SLO uses are only warnings."""
    diagnostics = Diagnostics()
    objects: list[_Object] = []
    for display_path, text in sources:
        before = len(objects)
        for document in read_yaml_documents(display_path, text, diagnostics):
            objects.extend(_objects_of(document, diagnostics))
        if len(objects) == before and not any(error.file == display_path for error in diagnostics.errors):
            diagnostics.file_warning(display_path, "no OpenSLO objects in this file")

    registry = _Registry(objects)
    used = registry.used_by_slos()
    for obj in objects:
        strict = check_unused_references or id(obj) in used
        _check_references(obj, registry, diagnostics, strict=strict)

    collector = NativeCollector()
    for obj in objects:
        if obj.kind == "SLO":
            _import_slo(obj, registry, phase, collector, diagnostics)
    for obj in objects:
        if obj.kind == "Service":
            _import_service(obj, phase, collector, diagnostics)
    documents = collector.documents(diagnostics)
    return diagnostics.result(documents)


def openslo_file_to_native(display_path: str, text: str) -> tuple[SloSetDocument | None, list[SloFileError]]:
    """One OpenSLO file kept in a definitions folder as `<system>/<phase>.yaml`: its SLOs as that
    system's document for that phase. References must resolve within the file. The phase's own rules
    (production needs a conventional and an ML SLI) are left to the loader."""
    path = PurePosixPath(display_path.replace("\\", "/"))
    system = path.parent.name
    try:
        phase = Phase(path.stem)
    except ValueError:
        phases = ", ".join(phase.value for phase in Phase)
        return None, [
            SloFileError(
                file=display_path,
                line=None,
                field="",
                message=f"file name {path.stem!r} is not a phase: expected one of {phases}",
            )
        ]
    result = import_openslo([(display_path, text)], phase=phase)
    if result.errors:
        return None, result.errors
    errors: list[SloFileError] = []
    document: SloSetDocument | None = None
    for candidate in result.documents:
        if candidate.system == system and candidate.phase is phase:
            document = candidate
            continue
        where = f"{candidate.system}/{candidate.phase.value if candidate.phase else '?'}"
        errors.append(
            SloFileError(
                file=display_path,
                line=None,
                field="",
                message=f"this file is {system}/{phase.value}, but it defines {where} "
                "(spec.service and the mlslo.dev/system and mlslo.dev/phase annotations must agree "
                "with the folder and the file name)",
            )
        )
    if errors:
        return None, errors
    if document is None:
        document = SloSetDocument.model_validate(
            {"apiVersion": API_VERSION, "kind": "SLOSet", "system": system, "phase": phase, "slos": []}
        )
    return document, []


# --- Reading objects ------------------------------------------------------------------------------


def _objects_of(document: YamlDocument, diagnostics: Diagnostics) -> list[_Object]:
    data = document.data
    root = Location(document, ())
    if data is None:
        return []
    if isinstance(data, list):
        items: list[tuple[Location, Any]] = [(root.child(index), item) for index, item in enumerate(data)]
    elif isinstance(data, dict):
        items = [(root, data)]
    else:
        diagnostics.error(
            root, "expected an OpenSLO object (apiVersion, kind, metadata, spec) or a list of them"
        )
        return []
    objects = []
    for at, item in items:
        parsed = _parse_object(at, item, diagnostics, inline_kind=None)
        if parsed is not None:
            objects.append(parsed)
    return objects


def _parse_object(
    at: Location, data: Any, diagnostics: Diagnostics, *, inline_kind: str | None
) -> _Object | None:
    """A top-level object (inline_kind None) or an object written inline where one of `inline_kind`
    is expected; inline objects may leave out apiVersion and kind."""
    if not isinstance(data, dict):
        diagnostics.error(at, "expected a mapping with apiVersion, kind, metadata and spec")
        return None
    valid = True
    for key in data:
        if key not in ("apiVersion", "kind", "metadata", "spec"):
            diagnostics.error(at.child(str(key)), "unknown field")
            valid = False
    api_version = data.get("apiVersion")
    if (inline_kind is None or api_version is not None) and api_version != OPENSLO_API_VERSION:
        given = "missing" if api_version is None else f"{api_version!r}"
        diagnostics.error(
            at.child("apiVersion"),
            f"unsupported apiVersion {given}: only {OPENSLO_API_VERSION} can be imported",
        )
        valid = False
    kind = data.get("kind", inline_kind)
    if inline_kind is not None and kind != inline_kind:
        diagnostics.error(at.child("kind"), f"expected kind {inline_kind} here, not {kind!r}")
        return None
    if kind not in SPEC_MODELS:
        known = ", ".join(OPENSLO_KINDS)
        given = "missing" if kind is None else f"{kind!r}"
        diagnostics.error(at.child("kind"), f"unknown kind {given}: expected one of {known}")
        return None
    for key in ("metadata", "spec"):
        if key not in data:
            diagnostics.error(at.child(key), "required field is missing")
    if "metadata" not in data or "spec" not in data:
        return None
    metadata = validate_model(OsMetadata, data["metadata"], at.child("metadata"), diagnostics)
    spec = validate_model(SPEC_MODELS[kind], data["spec"], at.child("spec"), diagnostics)
    if metadata is None or spec is None or not valid:
        return None
    parts = _parse_parts(kind, spec, at.child("spec"), diagnostics)
    if parts is None:
        return None
    return _Object(kind=kind, metadata=metadata, spec=spec, at=at, raw=data, parts=parts)


def _parse_parts(
    kind: str, spec: Any, at: Location, diagnostics: Diagnostics
) -> dict[str, list[_Part]] | None:
    parts: dict[str, list[_Part]] = {}
    valid = True
    if isinstance(spec, OsSloSpec):
        for number, objective in enumerate(spec.objectives):
            if objective.indicator is not None or objective.indicator_ref is not None:
                diagnostics.error(
                    at.child("objectives", number),
                    "composite SLOs (an indicator per objective) are not supported: "
                    "import each indicator as its own SLO",
                )
                valid = False
        if (spec.indicator is None) == (spec.indicator_ref is None):
            diagnostics.error(at, "give exactly one of indicator or indicatorRef")
            valid = False
        elif spec.indicator_ref is not None:
            parts["indicator"] = [_Ref("SLI", spec.indicator_ref, at.child("indicatorRef"))]
        else:
            inline = _parse_object(at.child("indicator"), spec.indicator, diagnostics, inline_kind="SLI")
            if inline is None:
                valid = False
            else:
                parts["indicator"] = [inline]
        policies = _parse_list(
            spec.alert_policies or [], "AlertPolicy", at.child("alertPolicies"), diagnostics
        )
        valid = valid and policies is not None
        parts["alertPolicies"] = policies or []
    elif isinstance(spec, OsAlertPolicySpec):
        conditions = _parse_list(spec.conditions, "AlertCondition", at.child("conditions"), diagnostics)
        targets = _parse_list(
            spec.notification_targets, "AlertNotificationTarget", at.child("notificationTargets"), diagnostics
        )
        valid = conditions is not None and targets is not None
        parts["conditions"] = conditions or []
        parts["notificationTargets"] = targets or []
    return parts if valid else None


def _parse_list(items: list[Any], kind: str, at: Location, diagnostics: Diagnostics) -> list[_Part] | None:
    """Items that are each a `<kind>Ref: name` or an inline object of `kind`."""
    key = REFERENCE_KEYS[kind]
    parts: list[_Part] = []
    valid = True
    for index, item in enumerate(items):
        where = at.child(index)
        if isinstance(item, dict) and key in item:
            extra = [other for other in item if other != key]
            for other in extra:
                diagnostics.error(where.child(str(other)), f"unknown field (a reference has only {key})")
            name = item[key]
            if not isinstance(name, str) or not name:
                diagnostics.error(where.child(key), f"expected the name of an {kind}")
                valid = False
            elif not extra:
                parts.append(_Ref(kind, name, where.child(key)))
            else:
                valid = False
            continue
        inline = _parse_object(where, item, diagnostics, inline_kind=kind)
        if inline is None:
            valid = False
        else:
            parts.append(inline)
    return parts if valid else None


# --- References -----------------------------------------------------------------------------------


class _Registry:
    """Top-level objects by kind and name. Objects written twice identically are one object."""

    def __init__(self, objects: list[_Object]) -> None:
        self.objects = objects
        self._by_name: dict[tuple[str, str], list[_Object]] = {}
        for obj in objects:
            self._by_name.setdefault((obj.kind, obj.metadata.name), []).append(obj)

    def candidates(self, kind: str, name: str) -> list[_Object]:
        found = self._by_name.get((kind, name), [])
        distinct: list[_Object] = []
        for obj in found:
            if all(obj.raw != other.raw for other in distinct):
                distinct.append(obj)
        return distinct

    def find(self, part: _Part) -> _Object | None:
        if isinstance(part, _Object):
            return part
        found = self.candidates(part.kind, part.name)
        return found[0] if len(found) == 1 else None

    def used_by_slos(self) -> set[int]:
        """Ids of the objects an SLO reaches, itself included."""
        used: set[int] = set()
        pending = [obj for obj in self.objects if obj.kind == "SLO"]
        while pending:
            obj = pending.pop()
            if id(obj) in used:
                continue
            used.add(id(obj))
            for parts in obj.parts.values():
                for part in parts:
                    found = self.find(part)
                    if found is not None:
                        pending.append(found)
        return used


def _check_references(obj: _Object, registry: _Registry, diagnostics: Diagnostics, *, strict: bool) -> None:
    report: Callable[[Location, str], None] = diagnostics.error if strict else diagnostics.warn
    for parts in obj.parts.values():
        for part in parts:
            if isinstance(part, _Object):
                _check_references(part, registry, diagnostics, strict=strict)
                continue
            found = registry.candidates(part.kind, part.name)
            if not found:
                known = sorted({o.metadata.name for o in registry.objects if o.kind == part.kind})
                hint = _did_you_mean(part.name, known)
                report(
                    part.at,
                    f"dangling reference: no {part.kind} named {part.name!r} in the files imported{hint}",
                )
            elif len(found) > 1:
                places = ", ".join(_describe_location(o.at) for o in found)
                report(
                    part.at,
                    f"ambiguous reference: {len(found)} different {part.kind}s are named {part.name!r} ({places})",
                )
    if obj.kind == "SLI":
        for role, metric_at, source in _metric_sources(obj.spec, obj.at.child("spec")):
            _check_metric_source(source, metric_at, registry, diagnostics, role=role)


def _check_metric_source(
    source: OsMetricSource, at: Location, registry: _Registry, diagnostics: Diagnostics, *, role: str
) -> None:
    if source.metric_source_ref is None:
        if source.type is None:
            diagnostics.error(
                at, f"the {role} metricSource needs a type (or a metricSourceRef to a DataSource)"
            )
        return
    found = registry.candidates("DataSource", source.metric_source_ref)
    if len(found) > 1:
        diagnostics.error(
            at.child("metricSourceRef"),
            f"ambiguous reference: {len(found)} different DataSources are named {source.metric_source_ref!r}",
        )
    elif not found and source.type is None:
        diagnostics.error(
            at.child("metricSourceRef"),
            f"dangling reference: no DataSource named {source.metric_source_ref!r} in the files imported, "
            "and the metricSource gives no type",
        )
    elif found and source.type is not None and found[0].spec.type.lower() != source.type.lower():
        diagnostics.error(
            at.child("type"),
            f"type {source.type!r} contradicts DataSource {source.metric_source_ref!r}, of type {found[0].spec.type!r}",
        )


def _did_you_mean(given: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(given, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _metric_sources(spec: OsSliSpec, at: Location) -> list[tuple[str, Location, OsMetricSource]]:
    found: list[tuple[str, Location, OsMetricSource]] = []
    if spec.threshold_metric is not None:
        found.append(
            ("threshold", at.child("thresholdMetric", "metricSource"), spec.threshold_metric.metric_source)
        )
    ratio = spec.ratio_metric
    if ratio is not None:
        for role in ("good", "bad", "total", "raw"):
            metric: OsMetric | None = getattr(ratio, role)
            if metric is not None:
                found.append((role, at.child("ratioMetric", role, "metricSource"), metric.metric_source))
    return found


# --- SLOs -----------------------------------------------------------------------------------------


@dataclass
class _SloContext:
    obj: _Object
    annotations: dict[str, str]
    diagnostics: Diagnostics
    notes: list[str] = field(default_factory=list)

    @property
    def ours(self) -> bool:
        """Written by our export (which always records the SLI kind)."""
        return "sli-kind" in self.annotations

    def at(self, *parts: str | int) -> Location:
        return self.obj.at.child(*parts)

    def annotation_at(self, name: str) -> Location:
        return self.at("metadata", "annotations", ANNOTATION_PREFIX + name)

    def json_annotation(self, name: str) -> Any:
        text = self.annotations.get(name)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            self.diagnostics.error(self.annotation_at(name), f"expected JSON: {exc}")
            return None


def _our_annotations(obj: _Object, diagnostics: Diagnostics) -> dict[str, str]:
    ours: dict[str, str] = {}
    for key, value in (obj.metadata.annotations or {}).items():
        if not key.startswith(ANNOTATION_PREFIX):
            continue
        name = key.removeprefix(ANNOTATION_PREFIX)
        if name not in ANNOTATIONS:
            hint = _did_you_mean(name, ANNOTATIONS)
            diagnostics.error(obj.at.child("metadata", "annotations", key), f"unknown mlslo annotation{hint}")
            continue
        ours[name] = value
    return ours


def _import_phase(context: _SloContext, default: Phase) -> Phase | None:
    text = context.annotations.get("phase")
    if text is None:
        return default
    try:
        return Phase(text)
    except ValueError:
        phases = ", ".join(phase.value for phase in Phase)
        context.diagnostics.error(
            context.annotation_at("phase"), f"unknown phase {text!r}: expected one of {phases}"
        )
        return None


def _import_system(text: str, at: Location, diagnostics: Diagnostics) -> str | None:
    system = slugify(text)
    if not system:
        diagnostics.error(at, f"cannot make a system name from {text!r}: use letters or digits")
        return None
    return system


def _import_service(
    obj: _Object, default_phase: Phase, collector: NativeCollector, diagnostics: Diagnostics
) -> None:
    annotations = _our_annotations(obj, diagnostics)
    system = _import_system(
        annotations.get("system", obj.metadata.name), obj.at.child("metadata", "name"), diagnostics
    )
    if system is None:
        return
    phases_text = annotations.get("phases")
    if phases_text is None:
        # A service whose SLOs are all elsewhere (or that has none) still names a system.
        if not collector.has_system(system):
            collector.ensure(system, default_phase, obj.at)
        return
    for name in filter(None, (part.strip() for part in phases_text.split(","))):
        try:
            collector.ensure(system, Phase(name), obj.at)
        except ValueError:
            diagnostics.error(
                obj.at.child("metadata", "annotations", ANNOTATION_PREFIX + "phases"),
                f"unknown phase {name!r}",
            )


def _import_slo(
    obj: _Object,
    registry: _Registry,
    default_phase: Phase,
    collector: NativeCollector,
    diagnostics: Diagnostics,
) -> None:
    spec: OsSloSpec = obj.spec
    context = _SloContext(obj, _our_annotations(obj, diagnostics), diagnostics)
    errors_before = len(diagnostics.errors)
    indicator = registry.find(obj.parts["indicator"][0])
    policies = [registry.find(part) for part in obj.parts["alertPolicies"]]
    if indicator is None or any(policy is None for policy in policies):
        return  # the dangling reference is already reported

    system = _import_system(
        context.annotations.get("system", spec.service), context.at("spec", "service"), diagnostics
    )
    phase = _import_phase(context, default_phase)
    name_text = context.annotations.get("slo", obj.metadata.name)
    name = slugify(name_text)
    if not name:
        diagnostics.error(context.at("metadata", "name"), f"cannot make an SLO name from {name_text!r}")

    sli = _import_sli(context, indicator, registry)
    raw: dict[str, Any] = {"name": name, "description": _import_description(context)}
    if sli is not None:
        raw["sli"] = sli
        kind = SliKind(sli["kind"])
        metric_info = kind_info(kind).metrics.get(sli.get("metric") or kind_info(kind).default_metric)
        measure = metric_info.measure if metric_info is not None else Measure.EVENTS
        raw.update(_import_objectives(context, kind, measure))
    for key in ("owner", "runbook-url"):
        if key in context.annotations:
            raw[key.replace("-", "_")] = context.annotations[key]
    window = _import_window(context)
    if window is not None:
        raw["window"] = window
    alerting = _import_alerting(context, [policy for policy in policies if policy is not None], registry)
    if alerting:
        raw["alerting"] = alerting
    exclusions = context.json_annotation("exclusions")
    if exclusions is not None:
        raw["exclusions"] = exclusions
    if context.notes:
        raw["description"] = _with_notes(raw["description"], context.notes)

    if system is None or phase is None or len(diagnostics.errors) > errors_before:
        return
    native = native_spec(raw, obj.at, f"SLO {obj.metadata.name!r}", diagnostics)
    if native is not None:
        collector.add(system, phase, native, obj.at, diagnostics)


def _import_description(context: _SloContext) -> str:
    if "description" in context.annotations:
        return context.annotations["description"]
    spec: OsSloSpec = context.obj.spec
    title, text = context.obj.metadata.display_name, spec.description or ""
    if title and text:
        return f"{title}: {text}"
    return title or text


def _with_notes(description: str, notes: list[str]) -> str:
    text = "\n".join([description, *notes]) if description else "\n".join(notes)
    if len(text) > NATIVE_DESCRIPTION_LIMIT:
        text = text[: NATIVE_DESCRIPTION_LIMIT - 1] + "…"
    return text


# --- The SLI --------------------------------------------------------------------------------------


def _source_type(source: OsMetricSource, registry: _Registry) -> str:
    if source.type is not None:
        return source.type
    found = registry.candidates("DataSource", source.metric_source_ref or "")
    return str(found[0].spec.type) if len(found) == 1 else "unknown"


def _query_of(source: OsMetricSource, at: Location, diagnostics: Diagnostics) -> str | None:
    for key in ("query", "promql"):
        query = source.spec.get(key)
        if isinstance(query, str) and query.strip():
            return query
    diagnostics.error(at.child("spec"), "a Prometheus metricSource needs the PromQL in spec.query")
    return None


def _import_sli(context: _SloContext, indicator: _Object, registry: _Registry) -> dict[str, Any] | None:
    diagnostics = context.diagnostics
    sli_spec: OsSliSpec = indicator.spec
    sli_at = indicator.at.child("spec")
    sources = _metric_sources(sli_spec, sli_at)
    types = {role: _source_type(source, registry) for role, _, source in sources}
    prometheus = all(value.lower() == "prometheus" for value in types.values())
    ratio = sli_spec.ratio_metric

    # Kind: ours, else what the indicator looks like.
    kind_text = context.annotations.get("sli-kind")
    threshold_ms: float | None = None
    if kind_text is not None:
        try:
            kind = SliKind(kind_text)
        except ValueError:
            kinds = ", ".join(kind.value for kind in SliKind)
            diagnostics.error(
                context.annotation_at("sli-kind"), f"unknown SLI kind {kind_text!r}: expected one of {kinds}"
            )
            return None
    elif sli_spec.threshold_metric is not None:
        kind = SliKind.FRESHNESS
        diagnostics.warn(
            sli_at.child("thresholdMetric"),
            "a thresholdMetric is imported as a freshness SLI (a value compared with each objective's "
            "op and value): change sli.kind if another kind fits",
        )
    else:
        queries = [str(source.spec.get("query", "")) for _, _, source in sources]
        threshold_ms = (
            guess_latency_threshold_ms(queries) if ratio is not None and ratio.raw is None else None
        )
        kind = SliKind.LATENCY if threshold_ms is not None else SliKind.ERROR_RATE

    # Source: ours, else Prometheus or push.
    source_text = context.annotations.get("source")
    if source_text is not None:
        try:
            source_kind = Source(source_text)
        except ValueError:
            known = ", ".join(source.value for source in Source)
            diagnostics.error(
                context.annotation_at("source"), f"unknown source {source_text!r}: expected one of {known}"
            )
            return None
    elif MLSLO_SOURCE_TYPE in {value.lower() for value in types.values()}:
        diagnostics.error(
            context.annotation_at("source"),
            f"a metricSource of type {MLSLO_SOURCE_TYPE} needs the {ANNOTATION_PREFIX}source annotation",
        )
        return None
    elif prometheus:
        source_kind = Source.PROMETHEUS
    else:
        source_kind = Source.PUSH
        foreign = ", ".join(sorted(set(types.values())))
        diagnostics.warn(
            sli_at,
            f"mlslo cannot read {foreign} data sources: imported with source push (your service pushes "
            "the events); the original queries are kept in the description",
        )
        for role, _, source in sources:
            spec_text = json.dumps(source.spec, sort_keys=True, default=str)
            context.notes.append(f"Imported from OpenSLO: {role} from {types[role]}: {spec_text}")

    sli: dict[str, Any] = {"kind": kind.value, "source": source_kind.value}
    if "metric" in context.annotations:
        sli["metric"] = context.annotations["metric"]
    parameters = context.json_annotation("sli-parameters")
    if parameters is not None:
        if not isinstance(parameters, dict):
            diagnostics.error(context.annotation_at("sli-parameters"), "expected a JSON object")
            return None
        sli.update(parameters)
    if threshold_ms is not None and "threshold_ms" not in sli:
        sli["threshold_ms"] = threshold_ms

    if source_kind is Source.PROMETHEUS:
        queries_block = _prometheus_queries(context, sli_spec, sli_at, types)
        if queries_block is None:
            return None
        sli["prometheus"] = queries_block
    elif prometheus and sources:
        diagnostics.warn(sli_at, f"the source is {source_kind.value}: the Prometheus queries are not used")
    config = context.json_annotation("source-config")
    if config is not None:
        block = SOURCE_BLOCKS.get(source_kind)
        if block is None:
            diagnostics.error(
                context.annotation_at("source-config"), f"source {source_kind.value} takes no configuration"
            )
            return None
        sli[block] = config
    return sli


def _prometheus_queries(
    context: _SloContext, sli_spec: OsSliSpec, at: Location, types: dict[str, str]
) -> dict[str, str] | None:
    diagnostics = context.diagnostics
    others = sorted({value for value in types.values() if value.lower() != "prometheus"})
    if others:
        diagnostics.error(at, f"source prometheus needs Prometheus metric sources, not {', '.join(others)}")
        return None
    if sli_spec.threshold_metric is not None:
        query = _query_of(
            sli_spec.threshold_metric.metric_source, at.child("thresholdMetric", "metricSource"), diagnostics
        )
        return None if query is None else {"value": query}
    ratio = sli_spec.ratio_metric
    assert ratio is not None  # one of the two, checked when read
    queries: dict[str, str] = {}
    for role in ("good", "bad", "total", "raw"):
        metric: OsMetric | None = getattr(ratio, role)
        if metric is None:
            continue
        query = _query_of(metric.metric_source, at.child("ratioMetric", role, "metricSource"), diagnostics)
        if query is None:
            return None
        if role == "raw":
            # Our `value` for an event SLI is the share of good events: a failure ratio is inverted.
            queries["value"] = query if ratio.raw_type == "success" else complement_ratio_query(query)
        else:
            queries[role] = query
        if ratio.counter and role != "raw" and WINDOW_PLACEHOLDER not in query:
            diagnostics.warn(
                at.child("ratioMetric", role),
                f"counter: true, but mlslo reads each query as the count of events in a window: "
                f"rewrite it with {WINDOW_PLACEHOLDER}, e.g. sum(increase(requests_total[{WINDOW_PLACEHOLDER}]))",
            )
    return queries


# --- Objectives, budgeting, time slices -----------------------------------------------------------

_BUDGETING = {
    "Occurrences": BudgetingMethod.OCCURRENCES,
    "Timeslices": BudgetingMethod.TIMESLICES,
    "RatioTimeslices": BudgetingMethod.RATIO_TIMESLICES,
}


def _import_objectives(context: _SloContext, kind: SliKind, measure: Measure) -> dict[str, Any]:
    diagnostics = context.diagnostics
    spec: OsSloSpec = context.obj.spec
    at = context.at("spec", "objectives")
    target_only = kind in (SliKind.ERROR_RATE, SliKind.JOB_SUCCESS)
    entries: list[dict[str, Any]] = []
    used_names: set[str] = set()
    for number, objective in enumerate(spec.objectives):
        entry: dict[str, Any] = {}
        if objective.display_name:
            name = slugify(objective.display_name) or f"objective-{number + 1}"
            while name in used_names:
                name = f"{name}-{number + 1}"
            entry["name"] = name
            used_names.add(name)
        elif len(spec.objectives) > 1:
            entry["name"] = f"objective-{number + 1}"
            used_names.add(entry["name"])
        if objective.target is not None:
            entry["target"] = objective.target
        else:
            entry["target_percent"] = objective.target_percent
        if target_only:
            if objective.value is not None:
                diagnostics.warn(
                    at.child(number, "value"),
                    f"a {kind.value} objective takes a target only: op and value are ignored",
                )
        else:
            if objective.op is not None:
                entry["op"] = objective.op
            if objective.value is not None:
                entry["value"] = objective.value
            elif measure is Measure.VALUE and not context.ours:
                diagnostics.error(
                    at.child(number, "value"), "an objective of a thresholdMetric needs op and value"
                )
        entries.append(entry)

    result: dict[str, Any] = {}
    form = context.annotations.get("objective-form")
    only = entries[0] if len(entries) == 1 else {}
    if form is None:
        form = "objectives"
        if set(only) == {"target"}:
            form = "objective"
        elif set(only) == {"target_percent"}:
            form = "objective_percent"
    if form == "objective" and set(only) == {"target"}:
        result["objective"] = only["target"]
    elif form == "objective_percent" and set(only) == {"target_percent"}:
        result["objective_percent"] = only["target_percent"]
    elif form in ("objective", "objective_percent", "objectives"):
        result["objectives"] = entries
    else:
        diagnostics.error(context.annotation_at("objective-form"), f"unknown objective form {form!r}")

    budgeting = _BUDGETING[spec.budgeting_method]
    if measure is Measure.VALUE and budgeting is not BudgetingMethod.TIMESLICES:
        diagnostics.warn(
            context.at("spec", "budgetingMethod"),
            f"a value SLI is judged slice by slice: imported with Timeslices budgeting, not {spec.budgeting_method}",
        )
        budgeting = BudgetingMethod.TIMESLICES
    if context.annotations.get("budgeting") != "default":
        result["budgeting"] = budgeting.value
    if budgeting is not BudgetingMethod.OCCURRENCES:
        time_slice = _import_time_slice(context, budgeting, measure)
        if time_slice is not None:
            result["time_slice"] = time_slice
    return result


def _import_time_slice(
    context: _SloContext, budgeting: BudgetingMethod, measure: Measure
) -> dict[str, Any] | None:
    diagnostics = context.diagnostics
    spec: OsSloSpec = context.obj.spec
    at = context.at("spec", "objectives")
    windows = {objective.time_slice_window for objective in spec.objectives}
    targets = {objective.time_slice_target for objective in spec.objectives}
    if len(windows) > 1:
        diagnostics.error(
            at, "every objective must have the same timeSliceWindow: mlslo has one slice length per SLO"
        )
        return None
    window = windows.pop()
    if window is None:
        if _BUDGETING[spec.budgeting_method] is BudgetingMethod.OCCURRENCES:
            window = "1m"  # converted from Occurrences: one-minute slices are closest to counting points
        else:
            diagnostics.error(
                at.child(0, "timeSliceWindow"), f"{spec.budgeting_method} budgeting needs timeSliceWindow"
            )
            return None
    durations = context.json_annotation("durations") or {}
    text = durations.get("time_slice") if isinstance(durations, dict) else None
    time_slice: dict[str, Any] = {"window": text or (f"{window}m" if isinstance(window, int) else window)}
    if budgeting is BudgetingMethod.TIMESLICES and measure is Measure.EVENTS:
        if len(targets) > 1:
            diagnostics.error(at, "every objective must have the same timeSliceTarget: mlslo has one per SLO")
            return None
        target = targets.pop()
        if target is None:
            diagnostics.error(at.child(0, "timeSliceTarget"), "Timeslices budgeting needs timeSliceTarget")
            return None
        time_slice["target"] = target
    elif not context.ours and targets - {None, 1}:
        diagnostics.warn(
            at.child(0, "timeSliceTarget"),
            "timeSliceTarget is ignored: a value SLI's slice is good when its value meets the objective",
        )
    return time_slice


# --- Time window ----------------------------------------------------------------------------------

_SHORTHAND = re.compile(r"^(\d+)([mhdwMQY])$")
_START_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$")


def _import_window(context: _SloContext) -> str | dict[str, str] | None:
    diagnostics = context.diagnostics
    spec: OsSloSpec = context.obj.spec
    at = context.at("spec", "timeWindow")
    if not spec.time_window:
        diagnostics.warn(at, f"no timeWindow: imported with a rolling {DEFAULT_WINDOW} window")
        return DEFAULT_WINDOW
    if len(spec.time_window) != 1:
        diagnostics.error(at, "timeWindow takes exactly one window")
        return None
    window = spec.time_window[0]
    at = at.child(0)
    rolling = window.is_rolling if window.is_rolling is not None else window.calendar is None
    if rolling and window.calendar is not None:
        diagnostics.error(at.child("calendar"), "calendar cannot be set when isRolling is true")
        return None
    match = _SHORTHAND.match(window.duration)
    if match is None:
        diagnostics.error(
            at.child("duration"),
            f"invalid duration {window.duration!r}: expected a number and m, h, d, w, M, Q or Y",
        )
        return None
    if rolling:
        amount, unit = int(match.group(1)), match.group(2)
        text = window.duration
        if unit in ROLLING_UNIT_DAYS:
            text = f"{amount * ROLLING_UNIT_DAYS[unit]}d"
            diagnostics.warn(
                at.child("duration"), f"a rolling {window.duration} window is imported as {text}"
            )
        durations = context.json_annotation("durations") or {}
        original = durations.get("window") if isinstance(durations, dict) else None
        text = original or text
        return {"rolling": text} if context.annotations.get("window-form") == "rolling" else text
    if window.calendar is None:
        diagnostics.error(at, "a window with isRolling: false needs calendar (startTime and timeZone)")
        return None
    unit_name = CALENDAR_DURATIONS.get(window.duration)
    if unit_name is None:
        supported = ", ".join(f"{key} ({name})" for key, name in CALENDAR_DURATIONS.items())
        diagnostics.error(
            at.child("duration"), f"calendar windows of {window.duration} are not supported: use {supported}"
        )
        return None
    _check_start_time(window.calendar.start_time, unit_name, at.child("calendar", "startTime"), diagnostics)
    return {"calendar": unit_name, "time_zone": window.calendar.time_zone}


def _check_start_time(
    value: str | datetime | date, unit: str, at: Location, diagnostics: Diagnostics
) -> None:
    if isinstance(value, datetime):
        moment = [value.year, value.month, value.day, value.hour, value.minute, value.second]
    elif isinstance(value, date):
        moment = [value.year, value.month, value.day, 0, 0, 0]
    else:
        match = _START_TIME.match(value.strip())
        if match is None:
            diagnostics.error(at, f"invalid startTime {value!r}: expected YYYY-MM-DD hh:mm:ss")
            return
        moment = [int(part) for part in match.groups()]
    year, month, day, hour, minute, second = moment
    try:
        weekday = date(year, month, day).weekday()
    except ValueError:
        diagnostics.error(at, f"invalid startTime {value!r}: no such date")
        return
    aligned = (hour, minute, second) == (0, 0, 0) and {
        "day": True,
        "week": weekday == 0,
        "month": day == 1,
        "quarter": day == 1 and month in (1, 4, 7, 10),
    }[unit]
    if not aligned:
        diagnostics.warn(
            at,
            f"calendar {unit}s start at midnight"
            + {
                "day": "",
                "week": " on Monday",
                "month": " on the 1st",
                "quarter": " on the 1st of Jan, Apr, Jul and Oct",
            }[unit]
            + f" in the time zone: startTime {value} is not used",
        )


# --- Alerting -------------------------------------------------------------------------------------


def _import_alerting(
    context: _SloContext, policies: list[_Object], registry: _Registry
) -> dict[str, Any] | None:
    ours = context.json_annotation("alerting")
    if ours is not None:
        if not isinstance(ours, dict):
            context.diagnostics.error(context.annotation_at("alerting"), "expected a JSON object")
            return None
        return ours
    if not policies:
        return None  # the phase's policy and mlslo's burn-rate rules decide
    page = ticket = False
    for policy in policies:
        spec: OsAlertPolicySpec = policy.spec
        conditions = [registry.find(part) for part in policy.parts["conditions"]]
        targets = [registry.find(part) for part in policy.parts["notificationTargets"]]
        described = []
        for condition in conditions:
            if condition is None:
                continue
            condition_spec: OsAlertConditionSpec = condition.spec
            is_page = condition_spec.severity.lower() in PAGE_SEVERITIES
            if spec.alert_when_breaching:
                page = page or is_page
                ticket = ticket or not is_page
            rule = condition_spec.condition
            text = f"{condition.metadata.name} [{condition_spec.severity}]: burn rate {rule.op or 'gte'} {rule.threshold:g} over {rule.lookback_window}"
            if rule.alert_after:
                text += f" for {rule.alert_after}"
            described.append(text)
        when = [
            label
            for label, flag in (
                ("breaching", spec.alert_when_breaching),
                ("resolved", spec.alert_when_resolved),
                ("no data", spec.alert_when_no_data),
            )
            if flag
        ]
        notify = ", ".join(
            f"{target.metadata.name} ({target.spec.target})" for target in targets if target is not None
        )
        context.notes.append(
            f"OpenSLO alert policy {policy.metadata.name} (when {', '.join(when) or 'never'}): "
            f"{'; '.join(described)}; notify {notify or 'nobody'}."
        )
    context.notes.append(
        "mlslo alerts with its own multiwindow burn-rate rules: the policies above set only whether "
        "this SLO pages and opens tickets."
    )
    alerting: dict[str, Any] = {}
    if not page:
        alerting["page"] = False
    if not ticket:
        alerting["ticket"] = False
    return alerting or None


# --------------------------------------------------------------------------------------------------
# Export.
# --------------------------------------------------------------------------------------------------


def export_openslo(documents: Sequence[SloSetDocument | SloFile]) -> str:
    """OpenSLO v1, as multi-document YAML: a Service per system, then an SLO (with its indicator
    inline) per native SLO. What OpenSLO cannot hold is kept in `mlslo.dev/` annotations."""
    native = [_as_document(document) for document in documents]
    phases_by_system: dict[str, list[str]] = {}
    for document in native:
        if document.system is None:
            raise ValueError("a document to export must name its system")
        phases = phases_by_system.setdefault(document.system, [])
        if document.phase is not None and document.phase.value not in phases:
            phases.append(document.phase.value)
    objects: list[dict[str, Any]] = []
    for system, phases in phases_by_system.items():
        metadata: dict[str, Any] = {"name": system}
        if phases:
            metadata["annotations"] = {ANNOTATION_PREFIX + "phases": ",".join(phases)}
        objects.append(
            {"apiVersion": OPENSLO_API_VERSION, "kind": "Service", "metadata": metadata, "spec": {}}
        )
    for document in native:
        assert document.system is not None
        for spec in document.slos:
            objects.append(_export_slo(document.system, document.phase, spec))
    return dump_yaml_documents(objects)


def _as_document(document: SloSetDocument | SloFile) -> SloSetDocument:
    if isinstance(document, SloSetDocument):
        return document
    return SloSetDocument.model_validate(
        {
            "apiVersion": API_VERSION,
            "kind": "SLOSet",
            "system": document.system,
            "phase": document.phase,
            "slos": document.slos,
        }
    )


def _object_name(system: str, phase: Phase | None, name: str) -> str:
    parts = [system, phase.value.replace("_", "-")] if phase is not None else [system]
    qualified = "-".join([*parts, name])
    if len(qualified) <= 63:
        return qualified
    digest = hashlib.sha256(qualified.encode()).hexdigest()[:8]
    return f"{qualified[:54].rstrip('-')}-{digest}"


def _openslo_duration(text: str) -> str:
    """Our durations in OpenSLO's shorthand, which has no seconds."""
    if text.strip()[-1] != "s":
        return text.strip()
    return f"{math.ceil(parse_window(text).total_seconds() / 60)}m"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _export_slo(system: str, phase: Phase | None, spec: SloSpec) -> dict[str, Any]:
    sli = spec.sli
    annotations: dict[str, str] = {"system": system}
    if phase is not None:
        annotations["phase"] = phase.value
    annotations["slo"] = spec.name
    annotations["sli-kind"] = sli.kind.value
    annotations["source"] = sli.source.value
    if sli.metric is not None:
        annotations["metric"] = sli.metric
    parameters = {
        key: value.model_dump(mode="json", exclude_defaults=True) if isinstance(value, BaseModel) else value
        for key in SLI_PARAMETERS
        if (value := getattr(sli, key)) is not None
    }
    if parameters:
        annotations["sli-parameters"] = _json(parameters)
    block_name = SOURCE_BLOCKS.get(sli.source)
    block: BaseModel | None = getattr(sli, block_name) if block_name else None
    if block is not None:
        annotations["source-config"] = _json(block.model_dump(mode="json", exclude_defaults=True))
    if spec.owner is not None:
        annotations["owner"] = spec.owner
    if spec.runbook_url is not None:
        annotations["runbook-url"] = spec.runbook_url
    alerting = spec.alerting.model_dump(mode="json", exclude_defaults=True)
    if alerting:
        annotations["alerting"] = _json(alerting)
    if spec.exclusions:
        annotations["exclusions"] = _json(
            [item.model_dump(mode="json", exclude_defaults=True) for item in spec.exclusions]
        )
    if spec.budgeting is None:
        annotations["budgeting"] = "default"
    if spec.objectives is not None and len(spec.objectives) == 1:
        only = spec.objectives[0].model_dump(exclude_defaults=True)
        if set(only) in ({"target"}, {"target_percent"}):
            annotations["objective-form"] = "objectives"

    durations: dict[str, str] = {}
    slo_spec: dict[str, Any] = {}
    if spec.description:
        if len(spec.description) > OPENSLO_DESCRIPTION_LIMIT:
            annotations["description"] = spec.description
            slo_spec["description"] = spec.description[: OPENSLO_DESCRIPTION_LIMIT - 1] + "…"
        else:
            slo_spec["description"] = spec.description
    name = _object_name(system, phase, spec.name)
    slo_spec["service"] = system
    slo_spec["indicator"] = {"metadata": {"name": name}, "spec": _export_indicator(spec)}
    budgeting = spec.budgeting_method
    slo_spec["budgetingMethod"] = {value: key for key, value in _BUDGETING.items()}[budgeting]
    window = spec.window
    if isinstance(window, CalendarWindow):
        duration = {unit: text for text, unit in CALENDAR_DURATIONS.items()}[window.calendar]
        slo_spec["timeWindow"] = [
            {
                "duration": duration,
                "isRolling": False,
                "calendar": {"startTime": ALIGNED_START, "timeZone": window.time_zone},
            }
        ]
    else:
        text = window.rolling if isinstance(window, RollingWindow) else window
        if isinstance(window, RollingWindow):
            annotations["window-form"] = "rolling"
        duration = _openslo_duration(text)
        if duration != text:
            durations["window"] = text
        slo_spec["timeWindow"] = [{"duration": duration, "isRolling": True}]

    objectives = _export_objectives(spec)
    if budgeting is not BudgetingMethod.OCCURRENCES and spec.time_slice is not None:
        slice_text = _openslo_duration(spec.time_slice.window)
        if slice_text != spec.time_slice.window:
            durations["time_slice"] = spec.time_slice.window
        for entry in objectives:
            entry["timeSliceWindow"] = slice_text
            if budgeting is BudgetingMethod.TIMESLICES:
                # A value SLI's slice is good when its one value meets the objective: all of it.
                entry["timeSliceTarget"] = (
                    spec.time_slice.target if spec.time_slice.target is not None else 1.0
                )
    slo_spec["objectives"] = objectives
    if durations:
        annotations["durations"] = _json(durations)
    return {
        "apiVersion": OPENSLO_API_VERSION,
        "kind": "SLO",
        "metadata": {
            "name": name,
            "annotations": {ANNOTATION_PREFIX + key: value for key, value in annotations.items()},
        },
        "spec": slo_spec,
    }


def _export_objectives(spec: SloSpec) -> list[dict[str, Any]]:
    if spec.objectives is None:
        if spec.objective is not None:
            return [{"target": spec.objective}]
        return [{"targetPercent": spec.objective_percent}]
    entries = []
    for objective in spec.objectives:
        entry: dict[str, Any] = {}
        if objective.name is not None:
            entry["displayName"] = objective.name
        if objective.op is not None:
            entry["op"] = objective.op.value
        if objective.value is not None:
            entry["value"] = objective.value
        if objective.target is not None:
            entry["target"] = objective.target
        if objective.target_percent is not None:
            entry["targetPercent"] = objective.target_percent
        entries.append(entry)
    return entries


def _prometheus_source(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _export_indicator(spec: SloSpec) -> dict[str, Any]:
    sli = spec.sli
    queries = sli.prometheus
    if sli.source is Source.PROMETHEUS and queries is not None:
        if queries.total is not None and (queries.good is None) != (queries.bad is None):
            # Our queries already count the events of a window, so OpenSLO should not take increases.
            ratio: dict[str, Any] = {"counter": False}
            if queries.good is not None:
                ratio["good"] = _prometheus_source(queries.good)
            if queries.bad is not None:
                ratio["bad"] = _prometheus_source(queries.bad)
            ratio["total"] = _prometheus_source(queries.total)
            return {"ratioMetric": ratio}
        if queries.value is not None:
            if spec.measure is Measure.EVENTS:
                return {
                    "ratioMetric": {
                        "counter": False,
                        "rawType": "success",
                        "raw": _prometheus_source(queries.value),
                    }
                }
            return {"thresholdMetric": _prometheus_source(queries.value)}
    if spec.measure is Measure.EVENTS:

        def events(which: str) -> dict[str, Any]:
            return {
                "metricSource": {
                    "type": MLSLO_SOURCE_TYPE,
                    "spec": {"source": sli.source.value, "events": which},
                }
            }

        return {"ratioMetric": {"counter": False, "good": events("good"), "total": events("total")}}
    return {
        "thresholdMetric": {
            "metricSource": {
                "type": MLSLO_SOURCE_TYPE,
                "spec": {"source": sli.source.value, "value": spec.metric},
            }
        }
    }
