"""Data drift and data quality against a reference dataset (source `evidently`), one check per
collection slot.

- The reference (`evidently.reference`: a CSV/Parquet file in the definitions folder, or a SQL
  query) is reduced to per-column statistics once per model version and stored
  (`reference_profile`); `{model_version}` in its path or query picks each version's own reference.
  Later checks read only the current data; re-applying the SLO with another reference or other
  columns builds the profile again.
- The current data is the window's pushed prediction features (default) or `evidently.current`.
  Windows larger than `sample_size` are sampled reproducibly (the seed is the slot's time), and
  the sample size is recorded with each reading.
- Drift (`drift_share`, `column_score`) is computed by `app.core.drift`, which reproduces
  Evidently 0.7's defaults (tests compare the two). Each column's score, method, threshold and
  direction are stored (`drift_score`).
- Data quality (`invalid_share`): the share of rows with a missing value, a number outside the
  reference's range, a category the reference never had, or NaN/Inf in what the model gave.
- Readings are kept for the SLI as a whole and per model version. With several versions in one
  window, the whole window is compared with the reference of the version served last in it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.clock import Clock
from app.collectors.results import CollectionError, Reading
from app.core.drift import (
    CategoricalReference,
    ColumnKind,
    DatasetDrift,
    NumericalReference,
    ReferenceProfile,
    build_reference_profile,
    dataset_drift,
    sample_rows,
)
from app.core.sample_budgeting import Sample
from app.db import SessionFactory, transaction
from app.measurements import repository as measurements_repository
from app.ml import repository
from app.ml.datasets import load_dataset
from app.ml.evidently_engine import TextDrift, text_drift
from app.ml.models import DriftScore
from app.ml.models import ReferenceProfile as StoredProfile
from app.ml.service import row_is_valid
from app.slos import repository as slos_repository

VERSION_PLACEHOLDER = "{model_version}"


@dataclass
class _Current:
    """One group of current rows: their feature columns and what the model gave."""

    columns: dict[str, list[Any]]
    outputs: list[tuple[float | None, float | None, Mapping[str, Any] | None]]
    rows: int
    served_last: datetime | None = None


def check(
    *,
    session_factory: SessionFactory,
    clock: Clock,
    slo_id: int,
    system_id: int,
    metric: str,
    column: str | None,
    config: Mapping[str, Any],
    window_start: datetime,
    window_end: datetime,
    base_dir: Path,
    environ: Mapping[str, str] = os.environ,
) -> Reading:
    """The SLI of one window, with a `store` step that writes the per-column scores, the
    per-version readings and any newly built reference profile in the run's transaction."""
    groups = _current_groups(session_factory, system_id, config, window_start, window_end, base_dir, environ)
    if not groups:
        raise CollectionError("no current data in the window: no predictions with features were pushed")
    latest_version = max(
        (version for version in groups if version),
        key=lambda version: groups[version].served_last or window_start,
        default="",
    )
    overall = _merge(list(groups.values()))
    profiles: dict[str, tuple[ReferenceProfile, bool]] = {}

    def profile_for(version: str) -> ReferenceProfile:
        key = version if _per_version(config) else ""
        if key not in profiles:
            profiles[key] = _load_or_build_profile(session_factory, slo_id, key, config, base_dir, environ)
        return profiles[key][0]

    text_references: dict[str, dict[str, list[Any]]] = {}

    def text_reference_for(version: str) -> dict[str, list[Any]]:
        key = version if _per_version(config) else ""
        if key not in text_references:
            text_references[key] = _text_reference(config, key, base_dir, environ)
        return text_references[key]

    sample_size = config.get("sample_size")
    seed = int(window_end.timestamp())
    results: list[tuple[str, float, int, DatasetDrift | None, list[TextDrift]]] = []
    targets = [("", overall)] + ([] if list(groups) == [""] else sorted(groups.items()))
    for version, group in targets:
        if version and len(groups) == 1:
            # One version in the window: its rows are the whole window's.
            results.append((version, *results[0][1:]))
            continue
        profile = profile_for(version or latest_version)
        columns, used = _sampled(group, sample_size, seed)
        texts = (
            [
                text_drift(name, reference_values, columns.get(name, []))
                for name, reference_values in text_reference_for(version or latest_version).items()
            ]
            if config.get("text_columns") and metric != "invalid_share"
            else []
        )
        value, drift = _measure(metric, column, profile, columns, group, used, config, texts)
        results.append((version, value, len(used), drift, texts))
    overall_value = results[0][1]
    measured_at = window_start
    built = {key: profile for key, (profile, new) in profiles.items() if new}

    def store(db_session: Session) -> None:
        now = clock.now()
        for key, profile in built.items():
            # A profile of an earlier reference (the SLO was re-applied with another one) is replaced.
            repository.replace_reference_profile(
                db_session=db_session,
                profile=StoredProfile(
                    slo_id=slo_id,
                    model_version=key,
                    built_at=now,
                    reference_rows=profile.reference_rows,
                    columns={c.name: c.kind.value for c in profile.columns},
                    profile=profile.to_bytes(),
                ),
            )
        scores: list[DriftScore] = []
        for version, value, used_rows, drift, texts in results:
            measurements_repository.put_samples(
                db_session=db_session,
                slo_id=slo_id,
                samples=[Sample(measured_at, value)],
                model_version=version,
                sample_size=used_rows,
            )
            if drift is not None:
                scores.extend(
                    DriftScore(
                        slo_id=slo_id,
                        measured_at=measured_at,
                        model_version=version,
                        column_name=result.column,
                        method=result.method.value,
                        threshold=result.threshold,
                        score=result.score,
                        drifted=result.drifted,
                        drift_when="below" if result.score_meaning.value == "p_value" else "at_or_above",
                        current_rows=result.current_rows,
                    )
                    for result in drift.columns
                )
            scores.extend(
                DriftScore(
                    slo_id=slo_id,
                    measured_at=measured_at,
                    model_version=version,
                    column_name=text.column,
                    method=text.method,
                    threshold=text.threshold,
                    score=text.score,
                    drifted=text.drifted,
                    drift_when="above_percentile",
                    current_rows=text.current_rows,
                )
                for text in texts
            )
        repository.put_drift_scores(
            db_session=db_session, slo_id=slo_id, measured_at=measured_at, scores=scores
        )

    return Reading(overall_value, store=store)


def _measure(
    metric: str,
    column: str | None,
    profile: ReferenceProfile,
    columns: Mapping[str, list[Any]],
    group: _Current,
    used: Sequence[int],
    config: Mapping[str, Any],
    texts: Sequence[TextDrift] = (),
) -> tuple[float, DatasetDrift | None]:
    """The SLI: the share of drifted columns (profiled and text columns alike), one column's score,
    or the share of invalid rows."""
    if metric == "column_score" and column is not None:
        for text in texts:
            if text.column == column:
                return text.score, None
    if metric == "invalid_share":
        return _invalid_share(profile, columns, [group.outputs[i] for i in used]), None
    missing = [c.name for c in profile.columns if c.name not in columns]
    if missing:
        raise CollectionError(f"the current data lacks the reference's columns: {', '.join(missing)}")
    arrays = {c.name: _as_array(c, columns[c.name]) for c in profile.columns}
    try:
        drift = dataset_drift(profile, arrays, method=config.get("method"), threshold=config.get("threshold"))
    except (KeyError, ValueError) as exc:
        raise CollectionError(f"drift could not be computed: {exc}") from None
    if metric == "column_score":
        if column is None:
            raise CollectionError("column_score needs sli.column")
        return drift.column(column).score, drift
    drifted = drift.number_of_drifted_columns + sum(text.drifted for text in texts)
    return drifted / (drift.number_of_columns + len(texts)), drift


def _invalid_share(
    profile: ReferenceProfile,
    columns: Mapping[str, list[Any]],
    outputs: Sequence[tuple[float | None, float | None, Mapping[str, Any] | None]],
) -> float:
    rows = len(outputs)
    if rows == 0:
        raise CollectionError("no rows to check")
    invalid = np.zeros(rows, dtype=bool)
    for reference in profile.columns:
        values = columns.get(reference.name, [None] * rows)
        if isinstance(reference, NumericalReference):
            numbers = np.array([_number(value) for value in values], dtype=float)
            low, high = reference.sorted_values[0], reference.sorted_values[-1]
            bad = ~np.isfinite(numbers) | (numbers < low) | (numbers > high)
        else:
            known = {_category(value) for value in reference.categories.tolist()}
            bad = np.array(
                [_is_missing(value) or _category(value) not in known for value in values], dtype=bool
            )
        invalid |= bad
    for index, (score, value, probabilities) in enumerate(outputs):
        if not row_is_valid(None, score, value, probabilities):
            invalid[index] = True
    return float(invalid.mean())


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _is_missing(value: Any) -> bool:
    """None, NaN or ±inf: what pandas gives for an empty cell of a file, and what Evidently drops."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _category(value: Any) -> str:
    """A category as text, numbers written canonically (1.0 and 1 are the category "1")."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


def _as_array(reference: NumericalReference | CategoricalReference, values: list[Any]) -> np.ndarray:
    if isinstance(reference, NumericalReference):
        return np.array([_number(value) for value in values], dtype=float)
    kind = reference.categories.dtype.kind
    if kind in "iuf":
        return np.array([_number(value) for value in values], dtype=float)
    if kind == "b":
        return np.array([value if isinstance(value, bool) else None for value in values], dtype=object)
    # A missing value (an empty cell of a current file is NaN) is dropped, not a category "nan".
    return np.array([None if _is_missing(value) else _category(value) for value in values], dtype=object)


def _sampled(group: _Current, sample_size: Any, seed: int) -> tuple[dict[str, list[Any]], list[int]]:
    if isinstance(sample_size, int) and group.rows > sample_size:
        chosen = [int(i) for i in sample_rows(group.rows, sample_size, seed)]
        return {name: [values[i] for i in chosen] for name, values in group.columns.items()}, chosen
    return group.columns, list(range(group.rows))


def _merge(groups: Sequence[_Current]) -> _Current:
    """All groups' rows as one; a column a group lacks is missing (None) in its rows."""
    names = sorted({name for group in groups for name in group.columns})
    return _Current(
        columns={
            name: [value for group in groups for value in group.columns.get(name, [None] * group.rows)]
            for name in names
        },
        outputs=[output for group in groups for output in group.outputs],
        rows=sum(group.rows for group in groups),
    )


def _current_groups(
    session_factory: SessionFactory,
    system_id: int,
    config: Mapping[str, Any],
    start: datetime,
    end: datetime,
    base_dir: Path,
    environ: Mapping[str, str],
) -> dict[str, _Current]:
    current = config.get("current")
    if current:
        frame = load_dataset(current, base_dir=base_dir, environ=environ, field="evidently.current")
        columns = {str(name): frame[name].tolist() for name in frame.columns}
        rows = len(frame)
        return {"": _Current(columns=columns, outputs=[(None, None, None)] * rows, rows=rows)} if rows else {}
    with transaction(session_factory) as db_session:
        served = repository.features_between(db_session=db_session, system_id=system_id, start=start, end=end)
        groups: dict[str, _Current] = {}
        for model_version, predicted_at, features, score, predicted_value, probabilities in served:
            if features is None:  # stored as JSON null
                continue
            group = groups.setdefault(model_version, _Current(columns={}, outputs=[], rows=0))
            for name in set(group.columns) | set(features):
                group.columns.setdefault(name, [None] * group.rows).append(features.get(name))
            group.outputs.append((score, predicted_value, probabilities))
            group.rows += 1
            group.served_last = predicted_at
    return groups


def _per_version(config: Mapping[str, Any]) -> bool:
    reference = config.get("reference") or {}
    return any(VERSION_PLACEHOLDER in str(reference.get(key) or "") for key in ("path", "query"))


def _load_or_build_profile(
    session_factory: SessionFactory,
    slo_id: int,
    model_version: str,
    config: Mapping[str, Any],
    base_dir: Path,
    environ: Mapping[str, str],
) -> tuple[ReferenceProfile, bool]:
    """The stored profile, or one built from the reference dataset (True: to be stored)."""
    with transaction(session_factory) as db_session:
        stored = repository.reference_profile(
            db_session=db_session, slo_id=slo_id, model_version=model_version
        )
        if stored is not None and not _profile_is_stale(db_session, slo_id, stored.built_at, config):
            return ReferenceProfile.from_bytes(stored.profile), False
    frame = load_dataset(
        _versioned(config, model_version), base_dir=base_dir, environ=environ, field="evidently.reference"
    )
    text = set(config.get("text_columns") or [])
    wanted: list[str] = [
        name for name in config.get("columns") or [str(name) for name in frame.columns] if name not in text
    ]
    unknown = [name for name in wanted if name not in frame.columns]
    if unknown:
        raise CollectionError(f"evidently.columns not in the reference: {', '.join(unknown)}")
    kinds = {name: _column_kind(frame[name]) for name in wanted}
    columns = {name: frame[name].to_numpy() for name in wanted}
    try:
        return build_reference_profile(columns, kinds), True
    except (KeyError, ValueError) as exc:
        raise CollectionError(f"the reference could not be profiled: {exc}") from None


def _text_reference(
    config: Mapping[str, Any], model_version: str, base_dir: Path, environ: Mapping[str, str]
) -> dict[str, list[Any]]:
    """The reference's text columns, read whole on every check: Evidently's text drift needs them."""
    frame = load_dataset(
        _versioned(config, model_version), base_dir=base_dir, environ=environ, field="evidently.reference"
    )
    names = list(config.get("text_columns") or [])
    unknown = [name for name in names if name not in frame.columns]
    if unknown:
        raise CollectionError(f"evidently.text_columns not in the reference: {', '.join(unknown)}")
    return {name: frame[name].tolist() for name in names}


def _versioned(config: Mapping[str, Any], model_version: str) -> dict[str, Any]:
    reference = dict(config.get("reference") or {})
    for key in ("path", "query"):
        if reference.get(key):
            reference[key] = str(reference[key]).replace(VERSION_PLACEHOLDER, model_version)
    return reference


def _reference_settings(config: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """What a profile is built from: the reference dataset and the columns compared."""
    return (
        config.get("reference") or None,
        config.get("columns") or None,
        config.get("text_columns") or None,
    )


def _profile_is_stale(
    db_session: Session, slo_id: int, built_at: datetime, config: Mapping[str, Any]
) -> bool:
    """Whether the SLO was re-applied with another reference or other columns since the profile was
    built (the SLO keeps its id when its definition changes, so its stored profile would be reused)."""
    versions = slos_repository.list_versions(db_session=db_session, slo_id=slo_id)
    in_force = [version for version in versions if version.effective_from <= built_at] or list(versions[:1])
    if not in_force:
        return False
    sli = in_force[-1].definition.get("sli") or {}
    return _reference_settings(sli.get("evidently") or {}) != _reference_settings(config)


def _column_kind(series: Any) -> ColumnKind:
    """Numbers are numerical (booleans are categories); everything else is categorical."""
    kind = series.dtype.kind
    return ColumnKind.NUMERICAL if kind in "iuf" else ColumnKind.CATEGORICAL
