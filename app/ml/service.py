"""Predictions, late labels and the quality SLIs computed from them.

- A prediction is stored with its model and data version (and optionally its features). Its id is
  the key labels use; a prediction pushed twice keeps the first copy.
- A label, possibly days later, is joined to its prediction by id and **counted at the
  prediction's time**: event SLIs (accuracy, within-tolerance) add one event to the prediction's
  minute (the error-budget engine's late-data path), and value SLIs (F1, AUC, MAE, ...) recompute
  the time slices the labels touched. Unlabelled predictions are in no denominator.
- A second label for a labelled prediction, or a label for an unknown id, is not applied: it is
  reported in the answer and kept as a label problem, never silently merged.
- Value readings are stored for the SLI as a whole (what the budget reads) and per model version
  (to split it), each with its data version when the slice has one and its number of rows.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from app.core.quality import (
    CLASSIFICATION_VALUE_METRICS,
    REGRESSION_VALUE_METRICS,
    LabelledClassification,
    canonical_label,
    classification_metric,
    numeric_label,
    regression_metric,
    within_tolerance,
)
from app.core.sample_budgeting import Sample
from app.core.sli_catalog import SliKind, Source
from app.errors import InvalidInputError
from app.measurements import repository as measurements_repository
from app.measurements.service import MAX_CLOCK_SKEW, minute_start
from app.ml import repository
from app.ml.models import LabelProblem, Prediction
from app.ml.schemas import (
    LabelBatch,
    LabelIngestResult,
    PredictionBatch,
    PredictionIngestResult,
    QualityGroup,
    QualityReport,
    json_safe,
)
from app.slos import repository as slos_repository
from app.slos.models import Slo
from app.systems.models import System

PREDICTION_KINDS = frozenset(
    {SliKind.CLASSIFICATION_QUALITY, SliKind.REGRESSION_ERROR, SliKind.PREDICTION_BIAS, SliKind.DATA_QUALITY}
)
# Event metrics counted when a label arrives; the rest of the label metrics are values per slice.
LABEL_EVENT_METRICS = frozenset({"accuracy", "within_tolerance"})
LABEL_VALUE_METRICS = CLASSIFICATION_VALUE_METRICS | REGRESSION_VALUE_METRICS
DEFAULT_SLICE = timedelta(hours=1)


def prediction_slos(db_session: Session, system: System) -> list[Slo]:
    """The system's SLOs in force that are computed from its pushed predictions."""
    return [
        slo
        for slo, _ in slos_repository.list_in_force(db_session=db_session, system_id=system.id)
        if slo.source == Source.PUSH.value and SliKind(slo.sli_kind) in PREDICTION_KINDS
    ]


def is_label_judged(slo: Slo) -> bool:
    """Whether the SLO's events or readings come from labels, which arrive late."""
    return (
        slo.source == Source.PUSH.value
        and SliKind(slo.sli_kind) in PREDICTION_KINDS
        and slo.metric in LABEL_EVENT_METRICS | LABEL_VALUE_METRICS
    )


# --- Predictions ------------------------------------------------------------------------------------


def ingest_predictions(
    *, db_session: Session, clock: Clock, system: System, batch: PredictionBatch
) -> PredictionIngestResult:
    latest_allowed = clock.now() + MAX_CLOCK_SKEW
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    repeated: list[str] = []
    for index, prediction in enumerate(batch.predictions):
        if prediction.time > latest_allowed:
            raise InvalidInputError(
                f"prediction time {prediction.time.isoformat()} is more than {MAX_CLOCK_SKEW} in the future",
                field=f"predictions.{index}.time",
            )
        if prediction.id in seen:
            repeated.append(prediction.id)
            continue
        seen.add(prediction.id)
        rows.append(
            {
                "system_id": system.id,
                "prediction_id": prediction.id,
                "predicted_at": prediction.time.astimezone(UTC),
                "model_version": prediction.model_version,
                "data_version": prediction.data_version,
                "predicted_label": None if prediction.label is None else canonical_label(prediction.label),
                "predicted_value": prediction.value,
                "score": prediction.score,
                "probabilities": (
                    None
                    if prediction.probabilities is None
                    else {canonical_label(k): json_safe(v) for k, v in prediction.probabilities.items()}
                ),
                "features": (
                    None
                    if prediction.features is None
                    else {name: json_safe(value) for name, value in prediction.features.items()}
                ),
            }
        )
    inserted = repository.insert_predictions(db_session=db_session, rows=rows)
    new_rows = [row for row in rows if row["prediction_id"] in inserted]
    slos = prediction_slos(db_session, system)
    updated = _count_valid_rows(db_session, slos, new_rows)
    invalid_share_slos = [slo for slo in slos if slo.metric == "invalid_share"]
    if invalid_share_slos and new_rows:
        times = [row["predicted_at"] for row in new_rows]
        recompute_value_slices(db_session, system, invalid_share_slos, times)
        updated += [slo.name for slo in invalid_share_slos]
    already = sorted({row["prediction_id"] for row in rows} - inserted) + repeated
    return PredictionIngestResult(
        accepted=len(inserted), already_known=already, slos_updated=sorted(set(updated))
    )


def row_is_valid(
    features: Mapping[str, Any] | None,
    score: float | None,
    value: float | None,
    probabilities: Mapping[str, Any] | None,
) -> bool:
    """No missing or non-finite feature, and no NaN/Inf in what the model gave."""
    numbers: list[Any] = [score, value, *(probabilities or {}).values()]
    if any(_not_finite(number) for number in numbers if number is not None):
        return False
    return all(item is not None and not _not_finite(item) for item in (features or {}).values())


def _not_finite(item: Any) -> bool:
    if isinstance(item, str):
        return item in ("nan", "NaN", "inf", "-inf", "Infinity", "-Infinity")
    return isinstance(item, float) and not math.isfinite(item)


def _count_valid_rows(
    db_session: Session, slos: Sequence[Slo], rows: Sequence[Mapping[str, Any]]
) -> list[str]:
    counted = [slo for slo in slos if slo.metric == "valid_rows"]
    if not counted or not rows:
        return []
    good: Counter[datetime] = Counter()
    total: Counter[datetime] = Counter()
    for row in rows:
        minute = minute_start(row["predicted_at"])
        total[minute] += 1
        if row_is_valid(row["features"], row["score"], row["predicted_value"], row["probabilities"]):
            good[minute] += 1
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=[(slo.id, minute, good[minute], count) for slo in counted for minute, count in total.items()],
    )
    return [slo.name for slo in counted]


# --- Labels -----------------------------------------------------------------------------------------


def ingest_labels(
    *, db_session: Session, clock: Clock, system: System, batch: LabelBatch
) -> LabelIngestResult:
    now = clock.now()
    stored = repository.predictions_for_update(
        db_session=db_session,
        system_id=system.id,
        prediction_ids=(label.prediction_id for label in batch.labels),
    )
    applied: list[Prediction] = []
    problems: list[LabelProblem] = []
    for label in batch.labels:
        text = canonical_label(label.label)
        prediction = stored.get(label.prediction_id)
        if prediction is None:
            problems.append(_problem(system, label.prediction_id, now, "unknown_prediction", text, None))
        elif prediction.label is not None:
            problems.append(_problem(system, label.prediction_id, now, "duplicate", text, prediction.label))
        else:
            prediction.label = text
            prediction.label_value = numeric_label(label.label)
            prediction.labelled_at = now
            applied.append(prediction)
    repository.add_label_problems(db_session=db_session, problems=problems)
    db_session.flush()

    slos = prediction_slos(db_session, system)
    updated = _count_label_events(db_session, slos, applied)
    value_slos = [slo for slo in slos if slo.metric in LABEL_VALUE_METRICS]
    if value_slos and applied:
        recompute_value_slices(db_session, system, value_slos, [p.predicted_at for p in applied])
        updated += [slo.name for slo in value_slos]
    return LabelIngestResult(
        applied=len(applied),
        duplicates=[p.prediction_id for p in problems if p.problem == "duplicate"],
        unknown=[p.prediction_id for p in problems if p.problem == "unknown_prediction"],
        slos_updated=sorted(set(updated)),
        earliest_prediction=min((p.predicted_at for p in applied), default=None),
    )


def _problem(
    system: System, prediction_id: str, now: datetime, problem: str, label: str, kept: str | None
) -> LabelProblem:
    return LabelProblem(
        system_id=system.id,
        prediction_id=prediction_id,
        received_at=now,
        problem=problem,
        label=label,
        kept_label=kept,
    )


def _count_label_events(db_session: Session, slos: Sequence[Slo], applied: Sequence[Prediction]) -> list[str]:
    """Accuracy and within-tolerance: each newly labelled prediction is one event at its own minute."""
    rows: list[tuple[int, datetime, int, int]] = []
    updated = []
    for slo in slos:
        if slo.metric not in LABEL_EVENT_METRICS:
            continue
        good: Counter[datetime] = Counter()
        total: Counter[datetime] = Counter()
        for prediction in applied:
            verdict = _label_event_is_good(slo, prediction)
            if verdict is None:
                continue
            minute = minute_start(prediction.predicted_at)
            total[minute] += 1
            good[minute] += verdict
        rows.extend((slo.id, minute, good[minute], count) for minute, count in total.items())
        updated.append(slo.name)
    measurements_repository.add_minute_counts(db_session=db_session, rows=rows)
    return updated


def _label_event_is_good(slo: Slo, prediction: Prediction) -> bool | None:
    """None when the prediction cannot be judged by this SLO (a classifier's row for a regression SLO)."""
    if slo.metric == "accuracy":
        if prediction.predicted_label is None or prediction.label is None:
            return None
        return prediction.predicted_label == prediction.label
    tolerance = (slo.definition.get("sli") or {}).get("tolerance")
    if prediction.predicted_value is None or prediction.label_value is None or tolerance is None:
        return None
    return within_tolerance(prediction.label_value, prediction.predicted_value, float(tolerance))


# --- Value SLIs per slice -----------------------------------------------------------------------------


def slice_length(slo: Slo) -> timedelta:
    return slo.time_slice_window or DEFAULT_SLICE


def slice_start(moment: datetime, length: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + length * ((moment - epoch) // length)


def recompute_value_slices(
    db_session: Session, system: System, slos: Sequence[Slo], times: Iterable[datetime]
) -> None:
    """Recompute each value SLO's readings for the slices holding `times` (the prediction times that
    new labels or predictions touched): one for the SLI as a whole and one per model version."""
    moments = list(times)
    for slo in slos:
        length = slice_length(slo)
        for start in sorted({slice_start(moment, length) for moment in moments}):
            predictions = repository.predictions_between(
                db_session=db_session,
                system_id=system.id,
                start=start,
                end=start + length,
                labelled_only=slo.metric != "invalid_share",
            )
            groups: dict[str, list[Prediction]] = defaultdict(list)
            for prediction in predictions:
                groups[prediction.model_version].append(prediction)
            for version, rows in [("", list(predictions)), *sorted(groups.items())]:
                value = slice_value(slo, rows)
                if value is None:
                    continue
                data_versions = {row.data_version for row in rows}
                measurements_repository.put_samples(
                    db_session=db_session,
                    slo_id=slo.id,
                    samples=[Sample(start, value)],
                    model_version=version,
                    data_version=data_versions.pop() if len(data_versions) == 1 else None,
                    sample_size=len(rows),
                )


def slice_value(slo: Slo, rows: Sequence[Prediction]) -> float | None:
    """The SLO's metric over the rows (labelled rows, except for invalid_share); None if undefined."""
    if not rows:
        return None
    if slo.metric == "invalid_share":
        invalid = sum(
            not row_is_valid(row.features, row.score, row.predicted_value, row.probabilities) for row in rows
        )
        return invalid / len(rows)
    return label_metric(slo, rows)


def label_metric(slo: Slo, rows: Sequence[Prediction]) -> float | None:
    metric = slo.metric
    if metric in REGRESSION_VALUE_METRICS:
        pairs = [
            (row.label_value, row.predicted_value)
            for row in rows
            if row.label_value is not None and row.predicted_value is not None
        ]
        return regression_metric(metric, [truth for truth, _ in pairs], [guess for _, guess in pairs])
    if metric == "within_tolerance":
        tolerance = float((slo.definition.get("sli") or {}).get("tolerance") or 0.0)
        judged = [
            within_tolerance(row.label_value, row.predicted_value, tolerance)
            for row in rows
            if row.label_value is not None and row.predicted_value is not None
        ]
        return sum(judged) / len(judged) if judged else None
    classified = [row for row in rows if row.predicted_label is not None and row.label is not None]
    labelled = LabelledClassification(
        truth=[row.label or "" for row in classified],
        predicted=[row.predicted_label or "" for row in classified],
        scores=[row.score for row in classified],
        probabilities=[row.probabilities for row in classified],
    )
    positive = (slo.definition.get("sli") or {}).get("positive_label")
    return classification_metric(metric, labelled, positive_label=positive)


# --- Quality report -----------------------------------------------------------------------------------


def quality_report(
    *, db_session: Session, system: System, slo: Slo, start: datetime, end: datetime
) -> QualityReport:
    """The SLO's metric over [start, end) from the stored predictions, as a whole and per model
    version, with the share of predictions labelled beside it."""
    if not (slo.source == Source.PUSH.value and SliKind(slo.sli_kind) in PREDICTION_KINDS):
        raise InvalidInputError(f"SLO {slo.name!r} is not computed from pushed predictions", field="slo")
    predictions = repository.predictions_between(
        db_session=db_session, system_id=system.id, start=start, end=end
    )
    groups: dict[str, list[Prediction]] = defaultdict(list)
    for prediction in predictions:
        groups[prediction.model_version].append(prediction)
    return QualityReport(
        slo=slo.name,
        metric=slo.metric,
        start=start,
        end=end,
        overall=_group(slo, None, predictions),
        by_model_version=[_group(slo, version, rows) for version, rows in sorted(groups.items())],
    )


def _group(slo: Slo, version: str | None, rows: Sequence[Prediction]) -> QualityGroup:
    labelled = [row for row in rows if row.label is not None]
    if slo.metric == "invalid_share":
        value = slice_value(slo, rows)
    elif slo.metric == "valid_rows":
        value = _valid_share(rows)
    else:
        value = label_metric(slo, labelled) if labelled else None
    return QualityGroup(
        model_version=version,
        value=value,
        predictions=len(rows),
        labelled=len(labelled),
        labelled_share=len(labelled) / len(rows) if rows else None,
    )


def _valid_share(rows: Sequence[Prediction]) -> float | None:
    if not rows:
        return None
    valid = sum(row_is_valid(row.features, row.score, row.predicted_value, row.probabilities) for row in rows)
    return valid / len(rows)
