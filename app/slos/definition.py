"""The native SLO definition format, `apiVersion: mlslo/v1`: pydantic models for the structure
(types, ranges, unknown keys) and `semantic_problems` for the rules that span several fields."""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from dateutil.rrule import rrulestr
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
)

from app.core.sli_catalog import (
    CATALOG,
    BudgetingMethod,
    Comparison,
    Measure,
    MetricInfo,
    SliFamily,
    SliKind,
    Source,
    allowed_budgeting,
    default_budgeting,
    kind_info,
)
from app.core.windows import parse_window
from app.systems.models import Phase

API_VERSION = "mlslo/v1"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
ENV_VAR_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
DURATION_PATTERN = r"^[0-9]+[smhdw]$"
DURATION_UNITS = ("s", "m", "h", "d", "w")
SHORTEST_WINDOW = timedelta(hours=1)
LONGEST_WINDOW = timedelta(days=400)
CALENDAR_UNITS = ("day", "week", "month", "quarter")
# Nominal lengths, used to scale burn-rate factors for calendar windows.
CALENDAR_LENGTHS = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "quarter": timedelta(days=91),
}
# Accepted spellings that are not in the enums: `availability` is what many teams call an error-rate
# SLI, and OpenSLO writes budgeting methods in PascalCase.
SLI_KIND_ALIASES = {"availability": SliKind.ERROR_RATE.value}
BUDGETING_ALIASES = {
    "Occurrences": BudgetingMethod.OCCURRENCES.value,
    "Timeslices": BudgetingMethod.TIMESLICES.value,
    "RatioTimeslices": BudgetingMethod.RATIO_TIMESLICES.value,
}
# Tags of the three shapes of `window`; pydantic puts the chosen one in error locations.
WINDOW_TAGS = ("duration", "rolling", "calendar")


def did_you_mean(given: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt name, if one is close enough to be a likely typo."""
    options = list(candidates)
    by_case = {option.lower(): option for option in options}
    if given.lower() in by_case:
        return by_case[given.lower()]
    matches = difflib.get_close_matches(given, options, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _suffix_hint(given: str, candidates: Iterable[str]) -> str:
    suggestion = did_you_mean(given, candidates)
    return f"; did you mean {suggestion!r}?" if suggestion else ""


_UNIT_WORDS = {
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "wk": "w",
    "week": "w",
    "weeks": "w",
}


def _duration_not_a_number(value: Any) -> Any:
    # Before the strict type check, so that `window: 30` says what is missing rather than "not text".
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(
            f"{value} has no unit: write a whole number and a unit (s, m, h, d or w), such as 30d"
        )
    return value


def _duration(value: str) -> str:
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]+)\s*", value)
    if match is not None and match[2] not in DURATION_UNITS:
        number, unit = match[1], match[2]
        hint = ""
        if unit.lower() in DURATION_UNITS:
            hint = f"; units are lowercase: write {number}{unit.lower()}"
        elif unit.lower() in _UNIT_WORDS:
            hint = f"; write {number}{_UNIT_WORDS[unit.lower()]}"
        elif unit.lower() in ("mo", "mon", "month", "months", "q", "quarter", "y", "yr", "year"):
            hint = "; months and quarters vary in length: use a calendar window such as {calendar: month}"
        raise ValueError(f"{value!r}: unit must be s, m, h, d or w{hint}")
    parse_window(value)
    return value


@functools.cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        suggestion = did_you_mean(value, _time_zone_names())
        hint = (
            f"; did you mean {suggestion!r}?"
            if suggestion
            else ": use an IANA name such as Asia/Tokyo or UTC"
        )
        raise ValueError(f"unknown time zone {value!r}{hint}") from None
    return value


def _http_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _timestamp_as_text(value: Any) -> Any:
    # YAML reads an unquoted 2026-01-04T02:00:00Z as a timestamp, not text; both mean the same here.
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no time zone: add Z or an offset such as +09:00")
        return value.isoformat()
    if isinstance(value, date):
        raise ValueError(
            f"{value.isoformat()} is a date: give a time too, such as {value.isoformat()}T02:00:00Z"
        )
    return value


def _aware_timestamp(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp such as 2026-01-04T02:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: add Z or an offset such as +09:00")
    return value


_RRULE_FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")


def _rrule(value: str) -> str:
    example = "such as FREQ=WEEKLY;BYDAY=SU"
    if "FREQ=" not in value.upper():
        raise ValueError(f"invalid recurrence rule {value!r}: it needs FREQ, {example}")
    try:
        rrulestr(value, dtstart=datetime(2026, 1, 1, tzinfo=UTC))
    except (ValueError, TypeError) as exc:
        reason = str(exc)
        if reason.startswith("not enough values"):
            reason = "write NAME=VALUE parts separated by ';'"
        elif reason.startswith("invalid 'FREQ'"):
            reason += _suffix_hint(reason.rsplit(" ", 1)[-1], _RRULE_FREQUENCIES)
        elif "UNTIL" in reason:
            reason = "UNTIL must be in UTC, such as UNTIL=20261231T000000Z"
        raise ValueError(f"invalid recurrence rule {value!r}: {reason} ({example})") from None
    return value


def _with_aliases(*aliases: str, meaning: str) -> Any:
    """JSON Schema for an enum field that also accepts a few alternative spellings."""

    def extend(schema: dict[str, Any]) -> None:
        alternative = {"enum": list(aliases), "description": meaning}
        if "anyOf" not in schema:
            annotations: dict[str, Any] = {
                key: schema.pop(key) for key in ("description", "default", "title") if key in schema
            }
            schema["anyOf"] = [dict(schema)]
            for key in list(schema):
                if key != "anyOf":
                    del schema[key]
            schema.update(annotations)
        schema["anyOf"].append(alternative)

    return extend


Duration = Annotated[
    str,
    BeforeValidator(_duration_not_a_number),
    AfterValidator(_duration),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A whole number and a unit: s, m, h, d or w.",
            "examples": ["5m", "1h", "28d", "4w"],
        }
    ),
]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Ratio = Annotated[float, Field(gt=0, lt=1)]
EnvVar = Annotated[str, Field(pattern=ENV_VAR_PATTERN)]
Timestamp = Annotated[
    str,
    BeforeValidator(_timestamp_as_text),
    AfterValidator(_aware_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-01-04T02:00:00Z"]}),
]
HttpUrl = Annotated[str, AfterValidator(_http_url), WithJsonSchema({"type": "string", "format": "uri"})]
TimeZone = Annotated[
    str, AfterValidator(_time_zone), WithJsonSchema({"type": "string", "examples": ["UTC", "Asia/Tokyo"]})
]


class FileModel(BaseModel):
    # Strict: a definition file is configuration, so "0.99" (a string) or `true` for a count is a
    # mistake, not something to coerce. Integers are still accepted where a number is expected.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PrometheusQueries(FileModel):
    """PromQL for source `prometheus`: `total` with one of `good` or `bad` for event SLIs, or `value`.
    `{{.window}}` (Sloth's placeholder) stands for the window being computed."""

    good: str | None = Field(default=None, description="Good events in `{{.window}}`.")
    bad: str | None = Field(default=None, description="Bad events in `{{.window}}` (instead of `good`).")
    total: str | None = Field(default=None, description="All valid events in `{{.window}}`.")
    value: str | None = Field(default=None, description="For value SLIs: a query giving the value.")


class SqlQuery(FileModel):
    """A query for source `sql`."""

    connection_env: EnvVar = Field(
        description="Environment variable holding the database URL; URLs are secrets and never go in files."
    )
    query: str = Field(min_length=1, description="Returns `good, total` (event SLIs) or `value`.")
    timeout: Duration = Field(default="10s", description="Longest time the query may run.")


class DatasetRef(FileModel):
    """A dataset: a file, or a query with the connection to run it on."""

    path: str | None = Field(
        default=None, description="A Parquet or CSV file, relative to the definitions folder."
    )
    query: str | None = Field(default=None, description="SQL that returns the rows.")
    connection_env: EnvVar | None = Field(
        default=None, description="Environment variable holding the database URL for `query`."
    )
    label_column: str | None = Field(
        default=None, min_length=1, description="Robustness holdout: the label column (default `label`)."
    )
    feature_columns: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, min_length=1, description="The feature columns; default: every other column."
    )


class HttpProbe(FileModel):
    """A request sent on a schedule, for source `http_probe`."""

    url: HttpUrl = Field(description="The http(s) URL to call.")
    method: Literal["GET", "HEAD", "POST"] = Field(default="GET", description="HTTP method.")
    expected_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(
        default_factory=lambda: [200], description="Status codes that count as a good probe."
    )
    expected_body: str | None = Field(default=None, description="A substring the body must contain.")
    timeout: Duration = Field(default="5s", description="A probe slower than this is bad.")
    holdout: DatasetRef | None = Field(
        default=None, description="Robustness: the labelled holdout set to score."
    )


class EvidentlyConfig(FileModel):
    """Datasets compared with Evidently, for source `evidently`."""

    reference: DatasetRef = Field(description="The reference data, usually a sample of the training set.")
    current: DatasetRef | None = Field(
        default=None, description="Default: the features pushed in the window."
    )
    columns: list[str] | None = Field(default=None, description="Columns to compare; default: all.")
    text_columns: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None,
        min_length=1,
        description="Free-text columns, compared by Evidently's text drift (a domain classifier) on the "
        "whole reference at every check.",
    )
    method: str | None = Field(default=None, description="Evidently drift method, e.g. ks, wasserstein, psi.")
    threshold: float | None = Field(default=None, description="Evidently's per-column drift threshold.")
    sample_size: int | None = Field(default=None, ge=100, description="Rows sampled from each dataset.")


class MissingData(FileModel):
    """What a failed collection means, and how long collection may fail before it alerts."""

    count_as: Literal["gap", "bad"] = Field(
        default="gap",
        description="`gap`: a failed collection is no data, neither good nor bad. `bad`: it counts as a "
        "bad reading (SLIs judged from collected readings only).",
    )
    alert_after: Duration | None = Field(
        default=None,
        description="Raise 'SLI data missing' when no collection has succeeded for this long; "
        "default: three collection intervals.",
    )


class Sli(FileModel):
    """What is measured (`kind`, `metric` and the kind's parameters) and where it comes from (`source`
    with its block)."""

    # Enums from YAML strings; strict mode would want enum instances.
    kind: SliKind = Field(
        strict=False,
        description="What is measured; `availability` is accepted for error_rate.",
        json_schema_extra=_with_aliases(*SLI_KIND_ALIASES, meaning="Same as error_rate."),
    )
    source: Source = Field(strict=False, description="Where the data comes from.")
    metric: str | None = Field(default=None, description="Which metric of the kind; each kind has a default.")
    threshold_ms: float | None = Field(
        default=None, gt=0, description="latency: the threshold of a good request, in milliseconds."
    )
    job: Name | None = Field(default=None, description="Job SLIs: the job whose runs count.")
    column: str | None = Field(default=None, description="data_drift column_score: the column.")
    tolerance: float | None = Field(
        default=None, ge=0, description="regression within_tolerance: |error| allowed."
    )
    noise_sigma: float | None = Field(
        default=None, gt=0, le=10, description="robustness: noise in feature standard deviations."
    )
    positive_label: str | None = Field(
        default=None,
        min_length=1,
        description="classification_quality: the positive class for binary precision, recall, F1, "
        "AUC and log loss; default: 1 or true when the classes are {0, 1} or {false, true}, else macro averages.",
    )
    stability_metric: str | None = Field(
        default=None,
        min_length=1,
        description="retrain_stability metric_spread: the metric (default accuracy).",
    )
    last_versions: int | None = Field(
        default=None,
        ge=2,
        le=100,
        description="retrain_stability metric_spread: versions compared (default 5).",
    )
    collect_every: Duration | None = Field(default=None, description="How often the collector runs.")
    missing_data: MissingData | None = Field(
        default=None, description="Collected sources: what a failed collection means, when it alerts."
    )
    prometheus: PrometheusQueries | None = Field(default=None, description="Queries for source prometheus.")
    sql: SqlQuery | None = Field(default=None, description="Query for source sql.")
    http_probe: HttpProbe | None = Field(default=None, description="Probe for source http_probe.")
    evidently: EvidentlyConfig | None = Field(default=None, description="Datasets for source evidently.")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_aliases(cls, value: Any) -> Any:
        return SLI_KIND_ALIASES.get(value, value) if isinstance(value, str) else value


class Objective(FileModel):
    """One target for the SLI; an SLO with several becomes one evaluated SLO per objective."""

    name: Name | None = Field(default=None, description="Needed when there are several objectives.")
    target: Ratio | None = Field(default=None, description="Share of good events or slices, in (0, 1).")
    target_percent: float | None = Field(
        default=None, gt=0, lt=100, description="The same target as a percentage."
    )
    op: Comparison | None = Field(
        default=None,
        strict=False,
        description="How the SLI's value compares with `value`; default: the metric's good direction.",
    )
    value: float | None = Field(
        default=None, allow_inf_nan=False, description="The threshold a value (or event) is compared with."
    )


class TimeSlice(FileModel):
    """The slices of timeslices and ratio_timeslices budgeting."""

    window: Duration = Field(description="Slice length, whole minutes from 1m to 1d.")
    target: Ratio | None = Field(
        default=None, description="Event SLIs with timeslices: a slice is good if its ratio reaches this."
    )


class RollingWindow(FileModel):
    """A window that ends now: `{rolling: 28d}` (the same as `window: 28d`)."""

    rolling: Duration = Field(description="The window's length, from 1h to 400d.")


class CalendarWindow(FileModel):
    """A window aligned to the calendar in a time zone, such as the current month in Tokyo."""

    calendar: Literal["day", "week", "month", "quarter"] = Field(description="The calendar unit.")
    time_zone: TimeZone = Field(default="UTC", description="IANA time zone where the unit starts.")


def _window_shape(value: Any) -> str:
    if isinstance(value, dict):
        return "calendar" if "calendar" in value else "rolling"
    if isinstance(value, CalendarWindow):
        return "calendar"
    if isinstance(value, RollingWindow):
        return "rolling"
    return "duration"


Window = Annotated[
    Annotated[Duration, Tag("duration")]
    | Annotated[RollingWindow, Tag("rolling")]
    | Annotated[CalendarWindow, Tag("calendar")],
    Discriminator(_window_shape),
]


class Alerting(FileModel):
    """This SLO's alert policy."""

    min_events: int | None = Field(
        default=None,
        ge=1,
        description="Events a rule's long window needs to fire; default: the service setting.",
    )
    page: bool = Field(default=True, description="Page on fast burn (in the phases that page).")
    ticket: bool = Field(default=True, description="Open a ticket on slow burn.")
    max_bad_events: int | None = Field(
        default=None,
        ge=0,
        description="Count-based rule for rare events: alert when more are bad in the window.",
    )


class Exclusion(FileModel):
    """A planned window (maintenance, retraining) whose data does not count."""

    reason: str = Field(min_length=1, description="Why; shown with the SLO.")
    start: Timestamp = Field(description="First (or only) window start, with a time zone.")
    duration: Duration = Field(description="Length of each excluded window.")
    rrule: Annotated[str, AfterValidator(_rrule)] | None = Field(
        default=None, description="RFC 5545 recurrence from `start`, e.g. FREQ=WEEKLY;BYDAY=SU."
    )
    time_zone: TimeZone | None = Field(
        default=None,
        description="IANA zone whose wall clock the recurrence follows across DST; default: the "
        "window's calendar time zone, else UTC.",
    )


class SloSpec(FileModel):
    """One SLO: an SLI, one or more objectives, a window, budgeting, alerting and exclusions."""

    name: Name = Field(description="Unique in the file: lowercase letters, digits and dashes.")
    description: str = Field(default="", max_length=5000, description="What the SLO promises, to whom.")
    owner: Literal["service", "model"] | None = Field(
        default=None, description="Who is alerted; default: service for conventional SLIs, model for ML SLIs."
    )
    runbook_url: HttpUrl | None = Field(default=None, description="Linked from alerts.")
    sli: Sli = Field(description="What is measured and where it comes from.")
    objective: Ratio | None = Field(default=None, description="Shorthand for one objective with this target.")
    objective_percent: float | None = Field(
        default=None, gt=0, lt=100, description="The same shorthand as a percentage."
    )
    objectives: list[Objective] | None = Field(
        default=None, min_length=1, description="One or more objectives (instead of `objective`)."
    )
    budgeting: BudgetingMethod | None = Field(
        default=None,
        strict=False,
        description="How the budget is counted; default: occurrences for event SLIs, timeslices for values.",
        json_schema_extra=_with_aliases(*BUDGETING_ALIASES, meaning="OpenSLO spellings."),
    )
    time_slice: TimeSlice | None = Field(
        default=None, description="Slices for timeslices and ratio_timeslices budgeting."
    )
    window: Window = Field(description="`30d`, `{rolling: 30d}` or `{calendar: month, time_zone: ...}`.")
    alerting: Alerting = Field(default_factory=Alerting, description="This SLO's alert policy.")
    exclusions: list[Exclusion] = Field(
        default_factory=list, description="Planned windows whose data does not count."
    )

    @field_validator("budgeting", mode="before")
    @classmethod
    def _budgeting_aliases(cls, value: Any) -> Any:
        return BUDGETING_ALIASES.get(value, value) if isinstance(value, str) else value

    # Derived views used by apply and evaluation.
    @property
    def metric(self) -> str:
        return self.sli.metric or kind_info(self.sli.kind).default_metric

    @property
    def measure(self) -> Measure:
        metric = kind_info(self.sli.kind).metrics.get(self.metric)
        return metric.measure if metric is not None else Measure.EVENTS

    @property
    def family(self) -> SliFamily:
        return kind_info(self.sli.kind).family

    @property
    def owner_side(self) -> str:
        return self.owner or ("model" if self.family is SliFamily.ML else "service")

    @property
    def budgeting_method(self) -> BudgetingMethod:
        return self.budgeting or default_budgeting(self.measure)

    @property
    def period(self) -> timedelta:
        if isinstance(self.window, str):
            return parse_window(self.window)
        if isinstance(self.window, RollingWindow):
            return parse_window(self.window.rolling)
        return CALENDAR_LENGTHS[self.window.calendar]

    def resolved_objectives(self) -> list[ResolvedObjective]:
        """Every objective with its target as a ratio and its comparison filled in."""
        if self.objectives is None:
            target = self.objective if self.objective is not None else (self.objective_percent or 0) / 100
            entries = [Objective(target=target)]
        else:
            entries = list(self.objectives)
        metric = kind_info(self.sli.kind).metrics.get(self.metric)
        resolved = []
        for entry in entries:
            target = entry.target if entry.target is not None else (entry.target_percent or 0) / 100
            value = entry.value
            if value is None and self.sli.kind is SliKind.LATENCY:
                value = self.sli.threshold_ms
            op = entry.op or (metric.good_direction if metric is not None and value is not None else None)
            resolved.append(ResolvedObjective(name=entry.name, target=target, op=op, value=value))
        return resolved


@dataclass(frozen=True, slots=True)
class ResolvedObjective:
    name: str | None
    target: float
    op: Comparison | None
    value: float | None


class SloSetDocument(FileModel):
    """A whole file, `<system>/<phase>.yaml`: one system's SLOs for one phase."""

    api_version: Literal["mlslo/v1"] = Field(alias="apiVersion", description="The format's version.")
    kind: Literal["SLOSet"] = Field(description="The document's type.")
    system: Name | None = Field(default=None, description="Optional; must equal the folder name.")
    phase: Phase | None = Field(default=None, strict=False, description="Optional; must equal the file name.")
    min_ml_test_score: float | None = Field(
        default=None,
        ge=0,
        le=7,
        description="The ML Test Score (0 to 7) the phase's SLOs must reach before the system may enter it.",
    )
    slos: list[SloSpec] = Field(description="The SLOs; may be empty (`slos: []`).")


@dataclass(frozen=True, slots=True)
class Problem:
    """A rule broken across fields; `path` is pydantic-style (("slos", 0, "sli", "source"))."""

    path: tuple[str | int, ...]
    message: str


def semantic_problems(document: SloSetDocument, phase: Phase | None) -> list[Problem]:
    problems: list[Problem] = []
    for index, spec in enumerate(document.slos):
        problems.extend(_spec_problems(("slos", index), spec))
    if phase is Phase.PRODUCTION:
        families = {spec.family for spec in document.slos}
        if SliFamily.CONVENTIONAL not in families:
            problems.append(
                Problem(
                    ("slos",),
                    "a production file needs at least one conventional SLI (latency, error_rate, job_*, freshness)",
                )
            )
        if SliFamily.ML not in families:
            problems.append(
                Problem(
                    ("slos",),
                    "a production file needs at least one ML SLI (classification_quality, data_drift, ...)",
                )
            )
    return problems


def _spec_problems(at: tuple[str | int, ...], spec: SloSpec) -> list[Problem]:
    problems: list[Problem] = []
    sli = spec.sli
    info = kind_info(sli.kind)

    if sli.source not in info.sources:
        can = ", ".join(sorted(source.value for source in info.sources))
        problems.append(
            Problem(
                (*at, "sli", "source"),
                f"a {sli.kind.value} SLI cannot come from {sli.source.value}; it can come from: {can}",
            )
        )
    if sli.metric is not None and sli.metric not in info.metrics:
        problems.append(Problem((*at, "sli", "metric"), _unknown_metric(sli.kind, sli.metric)))
    problems.extend(_source_block_problems(at, sli))
    problems.extend(_kind_parameter_problems(at, spec))

    given = [
        key for key in ("objective", "objective_percent", "objectives") if getattr(spec, key) is not None
    ]
    if len(given) != 1:
        message = (
            "give one of objective, objective_percent or objectives"
            if not given
            else f"give only one of {', '.join(given)}"
        )
        problems.append(Problem((*at, given[1] if len(given) > 1 else "objective"), message))
    # With an unknown metric, whether it is a value or events is unknown too: checks that depend on
    # it would only repeat the same mistake in other words.
    metric_known = spec.metric in info.metrics
    if spec.objectives is not None:
        problems.extend(_objectives_problems(at, spec, metric_known=metric_known))
    elif metric_known and spec.measure is Measure.VALUE and spec.objective_percent is None:
        problems.append(
            Problem(
                (*at, "objective"),
                f"{sli.kind.value} {spec.metric} gives a value per slice, not good and bad events: write "
                "objectives with the value a good slice meets, e.g. objectives: [{target: 0.95, value: 0.3}]",
            )
        )
    elif metric_known and spec.measure is Measure.VALUE:
        problems.append(
            Problem(
                (*at, "objective_percent"),
                f"{sli.kind.value} {spec.metric} gives a value per slice, not good and bad events: write "
                "objectives with the value a good slice meets, e.g. objectives: [{target_percent: 95, value: 0.3}]",
            )
        )
    if metric_known:
        problems.extend(_budgeting_problems(at, spec))
    if not isinstance(spec.window, CalendarWindow) and not SHORTEST_WINDOW <= spec.period <= LONGEST_WINDOW:
        problems.append(
            Problem((*at, "window"), f"the window must be between 1h and 400d, got {_window_text(spec)}")
        )
    for number, exclusion in enumerate(spec.exclusions):
        if parse_window(exclusion.duration) > spec.period:
            problems.append(
                Problem(
                    (*at, "exclusions", number, "duration"), "an exclusion cannot be longer than the window"
                )
            )
    return problems


def _unknown_metric(kind: SliKind, metric: str) -> str:
    metrics = kind_info(kind).metrics
    message = f"unknown metric {metric!r} for {kind.value}: expected one of {', '.join(metrics)}"
    suggestion = did_you_mean(metric, metrics)
    if suggestion is not None:
        return f"{message}; did you mean {suggestion!r}?"
    other_kinds = [other.value for other, info in CATALOG.items() if metric in info.metrics]
    if other_kinds:
        return f"{message}; {metric!r} is a metric of {' and '.join(other_kinds)}"
    return message


def _window_text(spec: SloSpec) -> str:
    window = spec.window
    return window if isinstance(window, str) else window.rolling if isinstance(window, RollingWindow) else ""


_SOURCE_BLOCKS = {
    Source.PROMETHEUS: "prometheus",
    Source.SQL: "sql",
    Source.HTTP_PROBE: "http_probe",
    Source.EVIDENTLY: "evidently",
}


def _source_block_problems(at: tuple[str | int, ...], sli: Sli) -> list[Problem]:
    problems = []
    wanted = _SOURCE_BLOCKS.get(sli.source)
    for source, block in _SOURCE_BLOCKS.items():
        present = getattr(sli, block) is not None
        if block == wanted and not present:
            problems.append(
                Problem((*at, "sli", block), f"source {source.value} needs a `{block}:` block under `sli:`")
            )
        elif block != wanted and present:
            problems.append(
                Problem(
                    (*at, "sli", block),
                    f"`{block}:` belongs to source {source.value}, but the source is {sli.source.value}",
                )
            )
    if sli.prometheus is not None:
        queries = sli.prometheus
        ratio = queries.total is not None and (queries.good is not None) != (queries.bad is not None)
        if not ratio and queries.value is None:
            problems.append(
                Problem((*at, "sli", "prometheus"), "give `total` with one of `good` or `bad`, or `value`")
            )
        elif ratio and queries.value is not None:
            problems.append(
                Problem((*at, "sli", "prometheus", "value"), "give either good/bad with total, or value")
            )
    problems.extend(_missing_data_problems(at, sli))
    for block_name in ("evidently", "http_probe"):
        block = getattr(sli, block_name)
        dataset = getattr(block, "reference", None) or getattr(block, "holdout", None)
        if dataset is not None:
            where = (*at, "sli", block_name, "reference" if block_name == "evidently" else "holdout")
            if (dataset.path is None) == (dataset.query is None):
                problems.append(Problem(where, "give either `path` or `query`"))
            elif dataset.query is not None and dataset.connection_env is None:
                problems.append(Problem((*where, "connection_env"), "a query needs `connection_env`"))
    return problems


COLLECTED_SOURCES = frozenset({Source.PROMETHEUS, Source.SQL, Source.HTTP_PROBE})


def collects_readings(sli: Sli, measure: Measure) -> bool:
    """Whether the collector stores readings (one number per collection) rather than event counts:
    value metrics, and event SLIs whose Prometheus query gives only the good ratio (`value`)."""
    ratio_query = sli.prometheus is not None and sli.prometheus.value is not None
    return sli.source in COLLECTED_SOURCES and (measure is Measure.VALUE or ratio_query)


def _missing_data_problems(at: tuple[str | int, ...], sli: Sli) -> list[Problem]:
    missing = sli.missing_data
    if missing is None:
        return []
    where = (*at, "sli", "missing_data")
    if sli.source not in COLLECTED_SOURCES:
        return [
            Problem(
                where,
                f"missing_data applies to collected sources (prometheus, sql, http_probe); "
                f"{sli.source.value} data is not collected by mlslo, so no collection can fail",
            )
        ]
    problems = []
    every = parse_window(sli.collect_every) if sli.collect_every else timedelta(minutes=1)
    if missing.alert_after is not None and parse_window(missing.alert_after) < every:
        problems.append(
            Problem(
                (*where, "alert_after"),
                f"alert_after ({missing.alert_after}) is shorter than one collection interval "
                f"({sli.collect_every or '1m'}): it would alert between two collections",
            )
        )
    metric = kind_info(sli.kind).metrics.get(sli.metric or kind_info(sli.kind).default_metric)
    measure = metric.measure if metric is not None else Measure.EVENTS
    if missing.count_as == "bad" and not collects_readings(sli, measure):
        problems.append(
            Problem(
                (*where, "count_as"),
                "count_as: bad needs an SLI judged from collected readings (a value metric, or a "
                "prometheus `value` query giving the good ratio); counted good/total events have no "
                "number of bad events to add for a failed collection",
            )
        )
    return problems


def _kind_parameter_problems(at: tuple[str | int, ...], spec: SloSpec) -> list[Problem]:
    sli = spec.sli
    problems = []
    parameters = {
        "threshold_ms": {SliKind.LATENCY},
        "job": {SliKind.JOB_SUCCESS, SliKind.JOB_THROUGHPUT, SliKind.FRESHNESS},
        "column": {SliKind.DATA_DRIFT},
        "tolerance": {SliKind.REGRESSION_ERROR},
        "noise_sigma": {SliKind.ROBUSTNESS},
        "positive_label": {SliKind.CLASSIFICATION_QUALITY},
        "stability_metric": {SliKind.RETRAIN_STABILITY},
        "last_versions": {SliKind.RETRAIN_STABILITY},
    }
    for parameter, kinds in parameters.items():
        if getattr(sli, parameter) is not None and sli.kind not in kinds:
            allowed = ", ".join(sorted(kind.value for kind in kinds))
            problems.append(Problem((*at, "sli", parameter), f"`{parameter}` applies to {allowed} SLIs only"))
    objectives_lack_value = spec.objectives is None or any(o.value is None for o in spec.objectives)
    if sli.kind is SliKind.LATENCY and sli.threshold_ms is None and objectives_lack_value:
        problems.append(
            Problem(
                (*at, "sli", "threshold_ms"),
                "a latency SLI needs threshold_ms (or a value on every objective)",
            )
        )
    if spec.metric == "within_tolerance" and sli.tolerance is None:
        problems.append(
            Problem((*at, "sli", "tolerance"), "within_tolerance needs the tolerance of a good prediction")
        )
    if spec.metric == "column_score" and sli.column is None:
        problems.append(Problem((*at, "sli", "column"), "column_score needs the column"))
    return problems


def _objectives_problems(at: tuple[str | int, ...], spec: SloSpec, *, metric_known: bool) -> list[Problem]:
    problems: list[Problem] = []
    objectives = spec.objectives or []
    metric = kind_info(spec.sli.kind).metrics.get(spec.metric)
    names: set[str] = set()
    for number, objective in enumerate(objectives):
        where = (*at, "objectives", number)
        if (objective.target is None) == (objective.target_percent is None):
            problems.append(Problem((*where, "target"), "give one of target or target_percent"))
        if len(objectives) > 1 and objective.name is None:
            problems.append(Problem((*where, "name"), "with several objectives, each needs a name"))
        if objective.name is not None:
            if objective.name in names:
                problems.append(Problem((*where, "name"), f"objective {objective.name!r} is defined twice"))
            names.add(objective.name)
        if metric_known:
            problems.extend(_objective_value_problems(where, spec, objective, metric))
    return problems


def _budgeting_problems(at: tuple[str | int, ...], spec: SloSpec) -> list[Problem]:
    problems = []
    method = spec.budgeting_method
    if method not in allowed_budgeting(spec.measure):
        problems.append(
            Problem(
                (*at, "budgeting"),
                f"{spec.sli.kind.value} {spec.metric} gives one value per slice, so it is budgeted with timeslices, not {method.value}",
            )
        )
    if method is BudgetingMethod.OCCURRENCES:
        if spec.time_slice is not None:
            problems.append(
                Problem(
                    (*at, "time_slice"), "time_slice applies to timeslices and ratio_timeslices budgeting"
                )
            )
        return problems
    if spec.time_slice is None:
        reason = (
            f"{method.value} budgeting"
            if spec.budgeting is not None
            else f"{spec.sli.kind.value} {spec.metric} is judged slice by slice (timeslices budgeting), so it"
        )
        problems.append(
            Problem((*at, "time_slice"), f"{reason} needs time_slice, e.g. time_slice: {{window: 1h}}")
        )
        return problems
    slice_length = parse_window(spec.time_slice.window)
    if slice_length % timedelta(minutes=1) or not timedelta(minutes=1) <= slice_length <= timedelta(days=1):
        problems.append(Problem((*at, "time_slice", "window"), "a slice is whole minutes, from 1m to 1d"))
    elif spec.period % slice_length:
        problems.append(
            Problem(
                (*at, "time_slice", "window"),
                f"{spec.time_slice.window} slices do not divide the window evenly: "
                "the window must be a whole number of slices",
            )
        )
    event_timeslices = method is BudgetingMethod.TIMESLICES and spec.measure is Measure.EVENTS
    if event_timeslices and spec.time_slice.target is None:
        problems.append(
            Problem(
                (*at, "time_slice", "target"),
                "with an event SLI budgeted with timeslices, a slice is good when its share of good "
                "events reaches time_slice.target: give it, e.g. target: 0.95",
            )
        )
    if not event_timeslices and spec.time_slice.target is not None:
        problems.append(
            Problem(
                (*at, "time_slice", "target"),
                "time_slice.target applies to event SLIs budgeted with timeslices",
            )
        )
    return problems


def _objective_value_problems(
    where: tuple[str | int, ...], spec: SloSpec, objective: Objective, metric: MetricInfo | None
) -> list[Problem]:
    problems = []
    kind = spec.sli.kind.value
    needs_value = spec.measure is Measure.VALUE or spec.sli.kind is SliKind.JOB_THROUGHPUT
    if needs_value and objective.value is None:
        default_op = (
            ""
            if metric is None or metric.good_direction is None
            else f" (op: {metric.good_direction.value} by default)"
        )
        problems.append(
            Problem(
                (*where, "value"),
                f"{kind} {spec.metric} is compared with a threshold: give `value`, the {spec.metric} "
                f"a good {'run' if spec.measure is Measure.EVENTS else 'slice'} meets{default_op}",
            )
        )
    if spec.sli.kind in (SliKind.ERROR_RATE, SliKind.JOB_SUCCESS) and (
        objective.op or objective.value is not None
    ):
        problems.append(
            Problem(
                (*where, "value" if objective.value is not None else "op"),
                f"{kind} objectives take a target only: an event is good or bad by itself, "
                "so there is no value to compare",
            )
        )
    if (
        objective.value is not None
        and objective.op is None
        and (metric is None or metric.good_direction is None)
    ):
        problems.append(Problem((*where, "op"), "say how the value compares: op: lt, lte, gt or gte"))
    return problems
