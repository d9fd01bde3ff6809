"""Model versions, retrain stability and model staleness, and readings pushed by teams that
evaluate offline.

Registering a version is a retrain's event: each `retrain_stability` SLO of the system gets a
reading at that moment (a failed retrain is a bad reading, so count-based rules such as
`max_bad_events` see failed and unstable retrains alike):
- `prediction_churn` and `negative_flip_rate` against the previous successful version with
  predictions on the same evaluation set (negative flips need the set's labels);
- `metric_spread`: the standard deviation of `stability_metric` (default `accuracy`) over the last
  `last_versions` (default 5) successful versions that report it on the same evaluation set (a
  version that does not report it gives no reading).
A version registered with `serving: true` becomes the serving version; `model_staleness` SLOs read
its age (`app.collectors`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.clock import Clock
from app.core.retrain import metric_spread, negative_flip_rate, prediction_churn
from app.core.sample_budgeting import Sample
from app.core.sli_catalog import Measure, SliKind, Source, kind_info
from app.errors import ConflictError, InvalidInputError
from app.measurements import repository as measurements_repository
from app.ml import repository
from app.ml.models import ModelVersion
from app.ml.schemas import ModelVersionIn, ReadingBatch, ReadingIngestResult
from app.slos import repository as slos_repository
from app.slos.models import Slo
from app.systems.models import System

DEFAULT_LAST_VERSIONS = 5
DEFAULT_STABILITY_METRIC = "accuracy"
# Clock skew allowed between the trainer and mlslo.
TRAINED_AT_TOLERANCE = timedelta(minutes=5)


def register(*, db_session: Session, clock: Clock, system: System, body: ModelVersionIn) -> ModelVersion:
    if repository.get_model_version(db_session=db_session, system_id=system.id, version=body.version):
        raise ConflictError(f"model version {body.version!r} is already registered", field="version")
    now = clock.now()
    if body.serving and body.outcome == "failed":
        raise InvalidInputError("a failed retrain cannot serve", field="serving")
    if body.trained_at > now + TRAINED_AT_TOLERANCE:
        # A model from the future would read as fresh until then: a clock or time zone error.
        raise InvalidInputError(
            f"trained_at {body.trained_at.isoformat()} is in the future (now: {now.isoformat()})",
            field="trained_at",
        )
    evaluation = body.evaluation_set
    version = ModelVersion(
        system_id=system.id,
        version=body.version,
        trained_at=body.trained_at,
        registered_at=now,
        data_version=body.data_version,
        outcome=body.outcome,
        metrics=dict(body.metrics),
        evaluation_set=None if evaluation is None else evaluation.name,
        evaluation_predictions=None if evaluation is None else evaluation.predictions,
        evaluation_labels=None if evaluation is None else evaluation.labels,
        serving_since=now if body.serving and body.outcome == "succeeded" else None,
    )
    earlier = list(repository.model_versions(db_session=db_session, system_id=system.id, limit=1000))
    db_session.add(version)
    db_session.flush()
    for slo in _stability_slos(db_session, system):
        value = stability_value(slo, version, earlier)
        if value is _NO_READING:
            continue
        sample = [Sample(now, value if isinstance(value, float) else None)]
        for model_version in ("", version.version):
            measurements_repository.put_samples(
                db_session=db_session,
                slo_id=slo.id,
                samples=sample,
                model_version=model_version,
                data_version=version.data_version,
            )
    return version


_NO_READING = object()


def stability_value(slo: Slo, version: ModelVersion, earlier: list[ModelVersion]) -> float | object | None:
    """The reading a retrain gives the SLO: a number, None (a bad reading: the retrain failed), or
    `_NO_READING` when there is nothing to compare with yet."""
    if version.outcome == "failed":
        return None
    succeeded = [v for v in earlier if v.outcome == "succeeded"]
    sli = slo.definition.get("sli") or {}
    if slo.metric == "metric_spread":
        name = sli.get("stability_metric") or DEFAULT_STABILITY_METRIC
        last = int(sli.get("last_versions") or DEFAULT_LAST_VERSIONS)
        if name not in version.metrics:
            # The retrain does not report the metric: nothing new to judge.
            return _NO_READING
        # A metric is comparable only on the same evaluation set.
        history = [version, *(v for v in succeeded if v.evaluation_set == version.evaluation_set)]
        values = [v.metrics[name] for v in history if name in v.metrics][:last]
        spread = metric_spread(values)
        return _NO_READING if spread is None else spread.std
    previous = next(
        (
            v
            for v in succeeded
            # An empty list is no predictions: there is nothing to compare.
            if v.evaluation_set == version.evaluation_set and v.evaluation_predictions
        ),
        None,
    )
    current = version.evaluation_predictions
    if previous is None or not current or not previous.evaluation_predictions:
        return _NO_READING
    if len(previous.evaluation_predictions) != len(current):
        return _NO_READING
    if slo.metric == "prediction_churn":
        return prediction_churn(previous.evaluation_predictions, current)
    labels = version.evaluation_labels or previous.evaluation_labels
    if labels is None or len(labels) != len(current):
        return _NO_READING
    return negative_flip_rate(previous.evaluation_predictions, current, labels)


def _stability_slos(db_session: Session, system: System) -> list[Slo]:
    return [
        slo
        for slo, _ in slos_repository.list_in_force(db_session=db_session, system_id=system.id)
        if slo.source == Source.PUSH.value and slo.sli_kind == SliKind.RETRAIN_STABILITY.value
    ]


def serving_age_seconds(*, db_session: Session, system_id: int, at: datetime) -> float | None:
    """Seconds from the training of the version serving at `at` to `at`; None when no version served
    then. A version that started serving after `at` (registered while a late collection of an
    earlier slot was pending) does not count: the reading describes its instant."""
    serving = repository.serving_version_at(db_session=db_session, system_id=system_id, at=at)
    if serving is None:
        return None
    return max(0.0, (at - serving.trained_at).total_seconds())


def push_readings(*, db_session: Session, slo: Slo, batch: ReadingBatch) -> ReadingIngestResult:
    """Readings of a `push` value SLI computed elsewhere (an offline robustness evaluation, say)."""
    metric = kind_info(SliKind(slo.sli_kind)).metrics.get(slo.metric)
    if slo.source != Source.PUSH.value or metric is None or metric.measure is not Measure.VALUE:
        raise InvalidInputError(
            f"SLO {slo.name!r} does not take pushed readings: only `push` SLOs of a value metric do",
            field="slo",
        )
    for reading in batch.readings:
        sample = [Sample(reading.time, reading.value)]
        versions = [""] if reading.model_version is None else ["", reading.model_version]
        for model_version in versions:
            measurements_repository.put_samples(
                db_session=db_session,
                slo_id=slo.id,
                samples=sample,
                model_version=model_version,
                data_version=reading.data_version,
                sample_size=reading.sample_size,
            )
    return ReadingIngestResult(accepted=len(batch.readings))
