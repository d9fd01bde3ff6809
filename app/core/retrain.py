"""Retrain stability: how much a new model version moves against the previous one on one fixed
evaluation set, and how much its quality metric spreads over the last retrains.

- prediction churn = mean 1[f_A(x) != f_B(x)] over the set;
- negative flip rate = mean 1[A correct and B wrong];
- metric spread over the last k versions: the population standard deviation (and the range).
Predictions and labels are compared in canonical form (`app.core.quality.canonical_label`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.quality import canonical_label

Label = str | int | float | bool


def _canonical(values: Sequence[Label]) -> list[str]:
    return [canonical_label(value) for value in values]


def prediction_churn(previous: Sequence[Label], current: Sequence[Label]) -> float:
    if len(previous) != len(current) or not current:
        raise ValueError("churn needs both versions' predictions on the same, non-empty evaluation set")
    return sum(a != b for a, b in zip(_canonical(previous), _canonical(current), strict=True)) / len(current)


def negative_flip_rate(previous: Sequence[Label], current: Sequence[Label], labels: Sequence[Label]) -> float:
    if not (len(previous) == len(current) == len(labels)) or not labels:
        raise ValueError("a negative flip rate needs predictions and labels of the same, non-empty set")
    truth = _canonical(labels)
    flips = sum(
        a == y and b != y for a, b, y in zip(_canonical(previous), _canonical(current), truth, strict=True)
    )
    return flips / len(truth)


@dataclass(frozen=True, slots=True)
class MetricSpread:
    versions: int
    std: float
    range: float


def metric_spread(values: Sequence[float]) -> MetricSpread | None:
    """Spread of a metric over the last versions; None for fewer than two."""
    if len(values) < 2:
        return None
    return MetricSpread(versions=len(values), std=statistics.pstdev(values), range=max(values) - min(values))
