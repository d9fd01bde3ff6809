"""What each SLI kind measures, which sources can provide it, and how it is budgeted by default.

Event SLIs count good and total events (requests, job runs, labelled predictions), so every
budgeting method applies. Value SLIs produce one number per time slice (an F1 score, a drift share,
an age), so they are judged slice by slice against a threshold and budgeted with time slices."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SliFamily(enum.StrEnum):
    CONVENTIONAL = "conventional"
    ML = "ml"


class Source(enum.StrEnum):
    PUSH = "push"
    PROMETHEUS = "prometheus"
    SQL = "sql"
    HTTP_PROBE = "http_probe"
    EVIDENTLY = "evidently"


class Measure(enum.StrEnum):
    EVENTS = "events"
    VALUE = "value"


class Comparison(enum.StrEnum):
    """How a value is compared with an objective's threshold (OpenSLO's `op`)."""

    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"

    def holds(self, value: float, threshold: float) -> bool:
        return {
            Comparison.LT: value < threshold,
            Comparison.LTE: value <= threshold,
            Comparison.GT: value > threshold,
            Comparison.GTE: value >= threshold,
        }[self]


class BudgetingMethod(enum.StrEnum):
    OCCURRENCES = "occurrences"
    TIMESLICES = "timeslices"
    RATIO_TIMESLICES = "ratio_timeslices"


class SliKind(enum.StrEnum):
    LATENCY = "latency"
    ERROR_RATE = "error_rate"
    JOB_SUCCESS = "job_success"
    JOB_THROUGHPUT = "job_throughput"
    FRESHNESS = "freshness"
    CLASSIFICATION_QUALITY = "classification_quality"
    REGRESSION_ERROR = "regression_error"
    PREDICTION_BIAS = "prediction_bias"
    DATA_DRIFT = "data_drift"
    DATA_QUALITY = "data_quality"
    ROBUSTNESS = "robustness"
    RETRAIN_STABILITY = "retrain_stability"
    MODEL_STALENESS = "model_staleness"


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """One metric an SLI kind can compute: whether it counts events or gives a value, and which way
    is good for a value (so `op` can default)."""

    measure: Measure
    good_direction: Comparison | None = None
    unit: str = ""


@dataclass(frozen=True, slots=True)
class KindInfo:
    family: SliFamily
    sources: frozenset[Source]
    metrics: dict[str, MetricInfo]
    default_metric: str
    description: str


_S = Source
_EVENTS = MetricInfo(Measure.EVENTS)

CATALOG: dict[SliKind, KindInfo] = {
    SliKind.LATENCY: KindInfo(
        SliFamily.CONVENTIONAL,
        frozenset({_S.PUSH, _S.PROMETHEUS, _S.HTTP_PROBE, _S.SQL}),
        {"requests_within_threshold": MetricInfo(Measure.EVENTS, Comparison.LTE, "ms")},
        "requests_within_threshold",
        "requests served within a latency threshold",
    ),
    SliKind.ERROR_RATE: KindInfo(
        SliFamily.CONVENTIONAL,
        frozenset({_S.PUSH, _S.PROMETHEUS, _S.HTTP_PROBE, _S.SQL}),
        {"successful_requests": _EVENTS},
        "successful_requests",
        "requests answered without an error (availability)",
    ),
    SliKind.JOB_SUCCESS: KindInfo(
        SliFamily.CONVENTIONAL,
        frozenset({_S.PUSH, _S.PROMETHEUS, _S.SQL}),
        {"successful_runs": _EVENTS},
        "successful_runs",
        "batch job runs that succeeded",
    ),
    SliKind.JOB_THROUGHPUT: KindInfo(
        SliFamily.CONVENTIONAL,
        frozenset({_S.PUSH, _S.PROMETHEUS, _S.SQL}),
        {"rows_per_second": MetricInfo(Measure.EVENTS, Comparison.GTE, "rows/s")},
        "rows_per_second",
        "job runs that processed rows at least as fast as a threshold",
    ),
    SliKind.FRESHNESS: KindInfo(
        SliFamily.CONVENTIONAL,
        frozenset({_S.PUSH, _S.PROMETHEUS, _S.SQL}),
        {"age_seconds": MetricInfo(Measure.VALUE, Comparison.LTE, "s")},
        "age_seconds",
        "time since the last successful run or update",
    ),
    SliKind.CLASSIFICATION_QUALITY: KindInfo(
        SliFamily.ML,
        frozenset({_S.PUSH, _S.SQL, _S.EVIDENTLY}),
        {
            "accuracy": _EVENTS,
            "precision": MetricInfo(Measure.VALUE, Comparison.GTE),
            "recall": MetricInfo(Measure.VALUE, Comparison.GTE),
            "f1": MetricInfo(Measure.VALUE, Comparison.GTE),
            "roc_auc": MetricInfo(Measure.VALUE, Comparison.GTE),
            "log_loss": MetricInfo(Measure.VALUE, Comparison.LTE),
        },
        "accuracy",
        "quality of a classifier on labelled predictions (labels may arrive late)",
    ),
    SliKind.REGRESSION_ERROR: KindInfo(
        SliFamily.ML,
        frozenset({_S.PUSH, _S.SQL, _S.EVIDENTLY}),
        {
            "mae": MetricInfo(Measure.VALUE, Comparison.LTE),
            "rmse": MetricInfo(Measure.VALUE, Comparison.LTE),
            "within_tolerance": MetricInfo(Measure.EVENTS, Comparison.LTE),
        },
        "mae",
        "error of a regressor on labelled predictions",
    ),
    SliKind.PREDICTION_BIAS: KindInfo(
        SliFamily.ML,
        frozenset({_S.PUSH, _S.SQL}),
        {"mean_error": MetricInfo(Measure.VALUE, Comparison.LTE)},
        "mean_error",
        "absolute difference between the mean prediction and the mean label",
    ),
    SliKind.DATA_DRIFT: KindInfo(
        SliFamily.ML,
        frozenset({_S.EVIDENTLY}),
        {
            "drift_share": MetricInfo(Measure.VALUE, Comparison.LTE),
            "column_score": MetricInfo(Measure.VALUE),
        },
        "drift_share",
        "drift of the input data against a reference dataset",
    ),
    SliKind.DATA_QUALITY: KindInfo(
        SliFamily.ML,
        frozenset({_S.PUSH, _S.SQL, _S.EVIDENTLY}),
        {
            "invalid_share": MetricInfo(Measure.VALUE, Comparison.LTE),
            "valid_rows": _EVENTS,
        },
        "invalid_share",
        "missing, out-of-range or unseen values in inputs, NaN/Inf in predictions",
    ),
    SliKind.ROBUSTNESS: KindInfo(
        SliFamily.ML,
        frozenset({_S.HTTP_PROBE, _S.PUSH}),
        {
            "robustness_ratio": MetricInfo(Measure.VALUE, Comparison.GTE),
            "flip_rate": MetricInfo(Measure.VALUE, Comparison.LTE),
        },
        "robustness_ratio",
        "accuracy under Gaussian input noise relative to clean accuracy",
    ),
    SliKind.RETRAIN_STABILITY: KindInfo(
        SliFamily.ML,
        frozenset({_S.PUSH}),
        {
            "prediction_churn": MetricInfo(Measure.VALUE, Comparison.LTE),
            "negative_flip_rate": MetricInfo(Measure.VALUE, Comparison.LTE),
            "metric_spread": MetricInfo(Measure.VALUE, Comparison.LTE),
        },
        "prediction_churn",
        "how much a retrained model's predictions and quality move against the previous model",
    ),
    SliKind.MODEL_STALENESS: KindInfo(
        SliFamily.ML,
        frozenset({_S.PUSH, _S.PROMETHEUS, _S.SQL}),
        {"age_seconds": MetricInfo(Measure.VALUE, Comparison.LTE, "s")},
        "age_seconds",
        "time since the model in service was trained",
    ),
}


def kind_info(kind: SliKind) -> KindInfo:
    return CATALOG[kind]


def allowed_budgeting(measure: Measure) -> frozenset[BudgetingMethod]:
    """A value has no events to count or ratio to average: it can only judge whole slices."""
    if measure is Measure.VALUE:
        return frozenset({BudgetingMethod.TIMESLICES})
    return frozenset(BudgetingMethod)


def default_budgeting(measure: Measure) -> BudgetingMethod:
    return BudgetingMethod.TIMESLICES if measure is Measure.VALUE else BudgetingMethod.OCCURRENCES
