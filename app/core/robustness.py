"""Robustness to noise of a classifier: accuracy on Gaussian-perturbed inputs against clean accuracy,
and the label-free flip rate under a small perturbation. Pure maths on arrays; no I/O.

Noise recipe (reproducible, and what the tests recompute independently):

* the scale of feature j is its **population** standard deviation on the holdout (``ddof=0``, as
  ``numpy.std``): the holdout is the whole population being perturbed, not a sample of one;
* a feature whose holdout values are all equal gets scale 0 (no noise), even where floating-point
  rounding would give ``numpy.std`` a tiny non-zero value;
* perturbed = features + Z * (sigma * scale), with Z = ``numpy.random.default_rng(seed)``
  ``.standard_normal(features.shape)``. The draws depend only on the seed and the shape, so the
  accuracy perturbation and the flip-rate perturbation share one direction and differ only in size,
  and sigma = 0 leaves every value exactly as it was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RobustnessResult:
    """One robustness measurement of a model on a holdout of `rows` labelled rows.

    `robustness_ratio` = noisy_accuracy / clean_accuracy (the SLI; 1 means noise costs nothing, and it
    can exceed 1 when noise happens to help). `flip_rate` is the share of rows whose prediction changes
    under noise of `flip_sigma` standard deviations, whatever the label."""

    rows: int
    clean_accuracy: float
    noisy_accuracy: float
    robustness_ratio: float
    flip_rate: float
    noise_sigma: float
    flip_sigma: float
    seed: int


def feature_noise_scale(features: FloatArray) -> FloatArray:
    """Each column's population standard deviation (ddof=0), and exactly 0 for a constant column."""
    _check_matrix(features)
    constant = np.ptp(features, axis=0) == 0
    scale: FloatArray = np.where(constant, 0.0, np.std(features, axis=0))
    return scale


def perturb_features(features: FloatArray, *, sigma: float, noise_scale: FloatArray, seed: int) -> FloatArray:
    """`features` plus Gaussian noise of `sigma` times `noise_scale` per column, drawn as the module says."""
    _check_matrix(features)
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    if noise_scale.shape != (features.shape[1],):
        raise ValueError(f"noise_scale has shape {noise_scale.shape}; expected ({features.shape[1]},)")
    draws = np.random.default_rng(seed).standard_normal(features.shape)
    perturbed: FloatArray = features + draws * (sigma * noise_scale)
    return perturbed


def same_label(left: object, right: object) -> bool:
    """Whether two labels are equal: numpy scalars become Python values, then Python's ``==`` decides,
    so numbers compare by value (1 == 1.0 == numpy.int64(1)) and a string never equals a number."""
    return bool(_plain(left) == _plain(right))


def accuracy(predictions: Sequence[object], labels: Sequence[object]) -> float:
    """Share of rows whose prediction equals its label (see `same_label`)."""
    return _count_equal(predictions, labels, what="predictions and labels") / len(labels)


def flip_rate(predictions: Sequence[object], perturbed_predictions: Sequence[object]) -> float:
    """Share of rows whose prediction changes when the input is perturbed."""
    unchanged = _count_equal(predictions, perturbed_predictions, what="the two prediction lists")
    return (len(predictions) - unchanged) / len(predictions)


def robustness_ratio(*, noisy_accuracy: float, clean_accuracy: float) -> float:
    """noisy / clean accuracy. Undefined (ValueError) when the clean accuracy is 0."""
    if clean_accuracy <= 0:
        raise ValueError("the clean accuracy is 0, so the robustness ratio is undefined")
    return noisy_accuracy / clean_accuracy


def score_robustness(
    *,
    labels: Sequence[object],
    clean_predictions: Sequence[object],
    noisy_predictions: Sequence[object],
    flip_predictions: Sequence[object],
    noise_sigma: float,
    flip_sigma: float,
    seed: int,
) -> RobustnessResult:
    """The measurement from the model's predictions on the clean holdout, on the holdout perturbed with
    `noise_sigma` and on the holdout perturbed with `flip_sigma`."""
    clean_accuracy = accuracy(clean_predictions, labels)
    noisy_accuracy = accuracy(noisy_predictions, labels)
    return RobustnessResult(
        rows=len(labels),
        clean_accuracy=clean_accuracy,
        noisy_accuracy=noisy_accuracy,
        robustness_ratio=robustness_ratio(noisy_accuracy=noisy_accuracy, clean_accuracy=clean_accuracy),
        flip_rate=flip_rate(clean_predictions, flip_predictions),
        noise_sigma=noise_sigma,
        flip_sigma=flip_sigma,
        seed=seed,
    )


def _count_equal(left: Sequence[object], right: Sequence[object], *, what: str) -> int:
    if len(left) != len(right):
        raise ValueError(f"{what} differ in length: {len(left)} and {len(right)}")
    if not left:
        raise ValueError(f"{what} are empty")
    return sum(same_label(a, b) for a, b in zip(left, right, strict=True))


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _check_matrix(features: FloatArray) -> None:
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"features must be a non-empty rows-by-columns matrix, got shape {features.shape}")
