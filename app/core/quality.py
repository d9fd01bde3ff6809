"""Quality of labelled predictions, computed with scikit-learn's metrics so that the SLIs equal
scikit-learn's on the same rows.

Classification labels are compared as text in a canonical form (`canonical_label`): 1, 1.0 and "1"
are the same class, as are true and "true". Precision, recall and F1 are binary for the positive
class when there is one (`positive_label`, or the classes are {0, 1} or {false, true}), else the
macro average over classes. ROC AUC and log loss need probabilities: the positive class's `score`
for binary problems, or `probabilities` by class (one-vs-rest macro AUC). A metric that is
undefined on the rows (AUC with one class present, no probabilities) is None: a gap, not a zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as sk_metrics

BINARY_CLASS_SETS = ({"0", "1"}, {"false", "true"})
CLASSIFICATION_VALUE_METRICS = frozenset({"precision", "recall", "f1", "roc_auc", "log_loss"})
REGRESSION_VALUE_METRICS = frozenset({"mae", "rmse", "mean_error"})


def canonical_label(value: str | int | float | bool) -> str:
    """One text per class: booleans as true/false, whole numbers without a decimal point."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    return value


def numeric_label(value: str | int | float | bool) -> float | None:
    """The label as a number, for regression; None for class names."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


@dataclass(frozen=True, slots=True)
class LabelledClassification:
    """Labelled rows of a classifier: truth and prediction as canonical labels, and what it gave of
    its probabilities."""

    truth: Sequence[str]
    predicted: Sequence[str]
    scores: Sequence[float | None]
    probabilities: Sequence[Mapping[str, float] | None]


def positive_class(classes: set[str], positive_label: str | None) -> str | None:
    if positive_label is not None:
        return canonical_label(positive_label)
    for binary in BINARY_CLASS_SETS:
        if classes <= binary:
            return "1" if "1" in binary else "true"
    return None


def classification_metric(
    metric: str, rows: LabelledClassification, *, positive_label: str | None = None
) -> float | None:
    """`accuracy`, `precision`, `recall`, `f1`, `roc_auc` or `log_loss` of the rows."""
    if not rows.truth:
        return None
    truth = np.asarray(rows.truth, dtype=object)
    predicted = np.asarray(rows.predicted, dtype=object)
    classes = set(rows.truth) | set(rows.predicted)
    positive = positive_class(classes, positive_label)
    if metric == "accuracy":
        return float(sk_metrics.accuracy_score(truth, predicted))
    if metric in ("precision", "recall", "f1"):
        scorer = {
            "precision": sk_metrics.precision_score,
            "recall": sk_metrics.recall_score,
            "f1": sk_metrics.f1_score,
        }[metric]
        if positive is not None:
            return float(scorer(truth, predicted, pos_label=positive, average="binary", zero_division=0))
        return float(scorer(truth, predicted, average="macro", zero_division=0))
    if metric in ("roc_auc", "log_loss"):
        return _probability_metric(metric, rows, truth, positive)
    raise ValueError(f"unknown classification metric {metric!r}")


def _probability_metric(
    metric: str, rows: LabelledClassification, truth: np.ndarray, positive: str | None
) -> float | None:
    if positive is not None and all(score is not None for score in rows.scores):
        scores = np.asarray(rows.scores, dtype=float)
        if not np.all(np.isfinite(scores)):
            return None
        is_positive = truth == positive
        if metric == "roc_auc":
            if is_positive.all() or not is_positive.any():
                return None
            return float(sk_metrics.roc_auc_score(is_positive, scores))
        return float(sk_metrics.log_loss(is_positive, scores, labels=[False, True]))
    if any(probabilities is None for probabilities in rows.probabilities):
        return None
    classes = sorted(
        {name for probabilities in rows.probabilities if probabilities for name in probabilities}
    )
    if len(classes) < 2 or not set(truth) <= set(classes):
        return None
    matrix = np.asarray(
        [[(probabilities or {}).get(name, 0.0) for name in classes] for probabilities in rows.probabilities],
        dtype=float,
    )
    if not np.all(np.isfinite(matrix)):
        return None
    if metric == "log_loss":
        return float(sk_metrics.log_loss(truth, matrix, labels=classes))
    if len(set(truth)) < 2:
        return None
    if len(classes) == 2:
        return float(sk_metrics.roc_auc_score(truth == classes[1], matrix[:, 1]))
    if len(set(truth)) < len(classes):
        return None
    return float(sk_metrics.roc_auc_score(truth, matrix, multi_class="ovr", average="macro", labels=classes))


def regression_metric(metric: str, truth: Sequence[float], predicted: Sequence[float]) -> float | None:
    """`mae`, `rmse`, or `mean_error` (|mean prediction - mean label|, the prediction bias)."""
    if not truth:
        return None
    y_true = np.asarray(truth, dtype=float)
    y_pred = np.asarray(predicted, dtype=float)
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        return None
    if metric == "mae":
        return float(sk_metrics.mean_absolute_error(y_true, y_pred))
    if metric == "rmse":
        return float(sk_metrics.root_mean_squared_error(y_true, y_pred))
    if metric == "mean_error":
        return float(abs(np.mean(y_pred) - np.mean(y_true)))
    raise ValueError(f"unknown regression metric {metric!r}")


def within_tolerance(truth: float, predicted: float, tolerance: float) -> bool:
    return abs(predicted - truth) <= tolerance
