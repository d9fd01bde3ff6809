"""Robustness of a served classifier to input noise: the labelled holdout is sent to the model clean and
perturbed, over the KServe / TF-Serving "V1" JSON protocol, and scored by `app.core.robustness`.

The protocol: ``POST url`` with ``{"instances": [[f1, f2, ...], ...]}``, answered by
``{"predictions": [p1, p2, ...]}``, one label (number or string) per instance, in order. Rows go in
batches. Anything else (a timeout, a non-2xx status, a body that is not that JSON, a wrong number of
predictions) makes the whole collection a `CollectionError`: a robustness figure from part of the
holdout would not be comparable with the last one. Error messages never hold the request body (the
holdout may be sensitive) nor the URL (it may carry credentials).

Every collection perturbs the holdout with the same seed, so a change in the ratio is a change in the
model, not in the noise draw.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from app.collectors.results import CollectionError, timeout_seconds
from app.core.robustness import (
    FloatArray,
    RobustnessResult,
    feature_noise_scale,
    perturb_features,
    score_robustness,
)
from app.ml.datasets import load_dataset

__all__ = ["RobustnessResult", "collect_robustness", "measure_robustness"]

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_NOISE_SIGMA = 0.1
DEFAULT_FLIP_SIGMA = 0.01
DEFAULT_BATCH_SIZE = 1000
DEFAULT_LABEL_COLUMN = "label"
COLLECTION_SEED = 0
_HOLDOUT_FIELD = "http_probe.holdout"
_NAMES_SHOWN = 20


def collect_robustness(
    *,
    http_client: httpx.Client,
    config: Mapping[str, Any],
    noise_sigma: float | None,
    base_dir: Path,
    environ: Mapping[str, str] = os.environ,
) -> RobustnessResult:
    """Measure the model behind `config` (the SLO's `sli.http_probe` block) on its holdout.

    `config`: `url` (the model's V1 predict endpoint), `timeout` (per request, default 30s) and `holdout`
    (a dataset block, see `app.ml.datasets.load_dataset`, relative to `base_dir`) whose optional
    `label_column` (default "label") and `feature_columns` (default: every other column, in the
    dataset's order) say which columns are sent and which are compared. `noise_sigma` is the SLO's
    `noise_sigma` (None: 0.1 standard deviations)."""
    url = config.get("url")
    if not url:
        raise CollectionError("http_probe.url is not set")
    timeout = timeout_seconds(config.get("timeout"), default=DEFAULT_TIMEOUT_SECONDS)
    holdout = config.get("holdout")
    if not isinstance(holdout, Mapping):
        raise CollectionError(f"{_HOLDOUT_FIELD} is not set; a robustness SLI needs a labelled holdout")
    frame = load_dataset(holdout, base_dir=base_dir, environ=environ, field=_HOLDOUT_FIELD)
    features, labels = _features_and_labels(frame, holdout)
    return measure_robustness(
        http_client=http_client,
        url=str(url),
        features=features,
        labels=labels,
        noise_sigma=DEFAULT_NOISE_SIGMA if noise_sigma is None else noise_sigma,
        seed=COLLECTION_SEED,
        timeout=timeout,
    )


def measure_robustness(
    *,
    http_client: httpx.Client,
    url: str,
    features: npt.NDArray[np.floating[Any]],
    labels: Sequence[object],
    noise_sigma: float,
    flip_sigma: float = DEFAULT_FLIP_SIGMA,
    seed: int = 0,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> RobustnessResult:
    """Predict `features` (rows-by-columns) clean, with Gaussian noise of `noise_sigma` and of `flip_sigma`
    standard deviations per feature (population std on these rows; see `app.core.robustness` for the
    exact draw from `seed`), `batch_size` rows per request, each request bounded by `timeout` seconds.

    Predictions are compared with `labels` (one per row) by value, so 1 equals 1.0. Raises
    CollectionError when the model cannot be scored, or when its clean accuracy is 0 (no ratio)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise CollectionError(f"the holdout must have rows and feature columns; its shape is {matrix.shape}")
    if len(labels) != matrix.shape[0]:
        raise CollectionError(f"the holdout has {matrix.shape[0]} feature rows but {len(labels)} labels")
    if not np.isfinite(matrix).all():
        raise CollectionError("the holdout features contain missing or infinite values")
    for name, sigma in (("noise_sigma", noise_sigma), ("flip_sigma", flip_sigma)):
        if not (math.isfinite(sigma) and sigma >= 0):
            raise CollectionError(f"{name} must be a finite number >= 0, got {sigma}")

    def predict(rows: FloatArray) -> list[object]:
        return _predict(http_client, url, rows, timeout=timeout, batch_size=batch_size)

    noise_scale = feature_noise_scale(matrix)
    clean_predictions = predict(matrix)
    noisy_predictions = predict(
        perturb_features(matrix, sigma=noise_sigma, noise_scale=noise_scale, seed=seed)
    )
    flip_predictions = predict(perturb_features(matrix, sigma=flip_sigma, noise_scale=noise_scale, seed=seed))
    try:
        return score_robustness(
            labels=labels,
            clean_predictions=clean_predictions,
            noisy_predictions=noisy_predictions,
            flip_predictions=flip_predictions,
            noise_sigma=noise_sigma,
            flip_sigma=flip_sigma,
            seed=seed,
        )
    except ValueError as exc:  # the clean accuracy is 0: no ratio to report
        raise CollectionError(str(exc)) from None


def _predict(
    http_client: httpx.Client, url: str, rows: FloatArray, *, timeout: float, batch_size: int
) -> list[object]:
    predictions: list[object] = []
    for start in range(0, rows.shape[0], batch_size):
        # tolist() gives Python floats, which JSON carries without loss.
        predictions.extend(
            _predict_batch(http_client, url, rows[start : start + batch_size].tolist(), timeout)
        )
    return predictions


def _predict_batch(
    http_client: httpx.Client, url: str, instances: list[list[float]], timeout: float
) -> list[object]:
    try:
        response = http_client.post(url, json={"instances": instances}, timeout=timeout)
    except httpx.InvalidURL:
        raise CollectionError("http_probe.url is not a valid URL") from None
    except httpx.TimeoutException:
        raise CollectionError(f"the model endpoint did not answer within the {timeout:g}s timeout") from None
    except httpx.RequestError as exc:
        # str(exc) can contain the URL; the exception type says enough.
        raise CollectionError(f"cannot reach the model endpoint: {type(exc).__name__}") from None
    if not response.is_success:
        raise CollectionError(f"the model endpoint answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise CollectionError("the model endpoint's answer is not JSON") from None
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list):
        raise CollectionError('the model endpoint\'s answer has no "predictions" list')
    if len(predictions) != len(instances):
        raise CollectionError(
            f"the model endpoint returned {len(predictions)} predictions for {len(instances)} instances"
        )
    for prediction in predictions:
        # bool is accepted as a number (True == 1), like a label read from a file.
        if not isinstance(prediction, int | float | str):
            raise CollectionError(
                f"the model endpoint's predictions must be labels (numbers or strings), "
                f"not {type(prediction).__name__}"
            )
    return predictions


def _features_and_labels(frame: Any, holdout: Mapping[str, Any]) -> tuple[FloatArray, list[object]]:
    """The feature matrix and the labels of the holdout `frame` (a pandas DataFrame)."""
    label_column = holdout.get("label_column", DEFAULT_LABEL_COLUMN)
    if not isinstance(label_column, str) or not label_column:
        raise CollectionError(f"{_HOLDOUT_FIELD}.label_column must be a column name")
    columns = [str(column) for column in frame.columns]
    if len(set(columns)) != len(columns):
        raise CollectionError(f"{_HOLDOUT_FIELD} has two columns with the same name")
    requested = holdout.get("feature_columns")
    if requested is None:
        feature_columns = [column for column in columns if column != label_column]
    elif isinstance(requested, list) and all(isinstance(name, str) for name in requested):
        feature_columns = list(requested)
    else:
        raise CollectionError(f"{_HOLDOUT_FIELD}.feature_columns must be a list of column names")
    missing = [name for name in (label_column, *feature_columns) if name not in columns]
    if missing:
        raise CollectionError(
            f"{_HOLDOUT_FIELD} has no column {_names(missing)}; its columns are {_names(columns)}"
        )
    if label_column in feature_columns:
        raise CollectionError(f"{_HOLDOUT_FIELD}.feature_columns includes the label column {label_column!r}")
    if not feature_columns:
        raise CollectionError(f"{_HOLDOUT_FIELD} has no feature columns besides {label_column!r}")

    frame = frame.set_axis(columns, axis="columns")
    label_values = frame[label_column]
    unlabelled = int(label_values.isna().sum())
    if unlabelled:
        raise CollectionError(f"{_HOLDOUT_FIELD}: {unlabelled} rows have no {label_column!r}")
    feature_values = [_numeric_column(frame[name], name) for name in feature_columns]
    return np.column_stack(feature_values), list(label_values.tolist())


def _numeric_column(values: Any, name: str) -> FloatArray:
    try:
        numbers: FloatArray = values.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise CollectionError(f"{_HOLDOUT_FIELD}: feature column {name!r} is not numeric") from None
    if not np.isfinite(numbers).all():
        raise CollectionError(f"{_HOLDOUT_FIELD}: feature column {name!r} has missing or infinite values")
    return numbers


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:_NAMES_SHOWN])
    return shown + (f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else "")
