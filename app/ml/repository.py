"""Queries of the ML SLIs: predictions and their labels, label problems, model versions, reference
profiles and drift scores."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.ml.models import DriftScore, LabelProblem, ModelVersion, Prediction, ReferenceProfile

# Rows per INSERT: each row binds one parameter per column, and a statement takes at most 65,535.
_INSERT_BATCH = 2_000


def insert_predictions(*, db_session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Store new predictions; ids already stored are left as they are. Returns the ids inserted."""
    inserted: set[str] = set()
    for offset in range(0, len(rows), _INSERT_BATCH):
        inserted.update(
            db_session.scalars(
                insert(Prediction)
                .values(list(rows[offset : offset + _INSERT_BATCH]))
                .on_conflict_do_nothing(index_elements=[Prediction.system_id, Prediction.prediction_id])
                .returning(Prediction.prediction_id)
            )
        )
    return inserted


def predictions_for_update(
    *, db_session: Session, system_id: int, prediction_ids: Iterable[str]
) -> dict[str, Prediction]:
    """The stored predictions among `prediction_ids`, locked until the transaction ends, so that two
    label batches for the same prediction cannot both apply."""
    ids = sorted(set(prediction_ids))
    if not ids:
        return {}
    found = db_session.scalars(
        select(Prediction)
        .where(Prediction.system_id == system_id, Prediction.prediction_id.in_(ids))
        .order_by(Prediction.prediction_id)
        .with_for_update()
    )
    return {prediction.prediction_id: prediction for prediction in found}


def predictions_between(
    *, db_session: Session, system_id: int, start: datetime, end: datetime, labelled_only: bool = False
) -> Sequence[Prediction]:
    """Predictions served in [start, end), oldest first."""
    statement = (
        select(Prediction)
        .where(Prediction.system_id == system_id)
        .where(Prediction.predicted_at >= start)
        .where(Prediction.predicted_at < end)
        .order_by(Prediction.predicted_at, Prediction.prediction_id)
    )
    if labelled_only:
        statement = statement.where(Prediction.label.is_not(None))
    return db_session.scalars(statement).all()


def features_between(*, db_session: Session, system_id: int, start: datetime, end: datetime) -> Sequence[Any]:
    """What drift checks read of the predictions served in [start, end): (model_version,
    predicted_at, features, score, predicted_value, probabilities), oldest first."""
    return db_session.execute(
        select(
            Prediction.model_version,
            Prediction.predicted_at,
            Prediction.features,
            Prediction.score,
            Prediction.predicted_value,
            Prediction.probabilities,
        )
        .where(Prediction.system_id == system_id)
        .where(Prediction.predicted_at >= start)
        .where(Prediction.predicted_at < end)
        .order_by(Prediction.predicted_at, Prediction.prediction_id)
    ).all()


def prediction_counts_by_version(
    *, db_session: Session, system_id: int, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """(predictions, labelled) per model version in [start, end)."""
    rows = db_session.execute(
        select(Prediction.model_version, func.count(), func.count(Prediction.label))
        .where(Prediction.system_id == system_id)
        .where(Prediction.predicted_at >= start)
        .where(Prediction.predicted_at < end)
        .group_by(Prediction.model_version)
    ).all()
    return {version: (int(total), int(labelled)) for version, total, labelled in rows}


def add_label_problems(*, db_session: Session, problems: Sequence[LabelProblem]) -> None:
    db_session.add_all(problems)


def label_problems(*, db_session: Session, system_id: int, limit: int) -> Sequence[LabelProblem]:
    return db_session.scalars(
        select(LabelProblem)
        .where(LabelProblem.system_id == system_id)
        .order_by(LabelProblem.received_at.desc(), LabelProblem.id.desc())
        .limit(limit)
    ).all()


def label_problem_counts(*, db_session: Session, system_id: int) -> dict[str, int]:
    rows = db_session.execute(
        select(LabelProblem.problem, func.count())
        .where(LabelProblem.system_id == system_id)
        .group_by(LabelProblem.problem)
    ).all()
    return {problem: int(count) for problem, count in rows}


# --- Model versions ---------------------------------------------------------------------------------


def get_model_version(*, db_session: Session, system_id: int, version: str) -> ModelVersion | None:
    return db_session.scalars(
        select(ModelVersion).where(ModelVersion.system_id == system_id, ModelVersion.version == version)
    ).one_or_none()


def model_versions(*, db_session: Session, system_id: int, limit: int = 100) -> Sequence[ModelVersion]:
    """The latest registered versions first."""
    return db_session.scalars(
        select(ModelVersion)
        .where(ModelVersion.system_id == system_id)
        .order_by(ModelVersion.registered_at.desc(), ModelVersion.id.desc())
        .limit(limit)
    ).all()


def serving_version_at(*, db_session: Session, system_id: int, at: datetime) -> ModelVersion | None:
    """The version that was serving at `at`: the last to start serving at or before it."""
    return db_session.scalars(
        select(ModelVersion)
        .where(
            ModelVersion.system_id == system_id,
            ModelVersion.serving_since.is_not(None),
            ModelVersion.serving_since <= at,
        )
        .order_by(ModelVersion.serving_since.desc(), ModelVersion.id.desc())
        .limit(1)
    ).one_or_none()


def current_model_version(*, db_session: Session, system_id: int, at: datetime) -> str | None:
    """The version serving at `at`, else the version of the latest prediction served by then."""
    serving = serving_version_at(db_session=db_session, system_id=system_id, at=at)
    if serving is not None:
        return serving.version
    latest: str | None = db_session.scalar(
        select(Prediction.model_version)
        .where(Prediction.system_id == system_id, Prediction.predicted_at <= at)
        .order_by(Prediction.predicted_at.desc())
        .limit(1)
    )
    return latest


# --- Drift ------------------------------------------------------------------------------------------


def reference_profile(*, db_session: Session, slo_id: int, model_version: str) -> ReferenceProfile | None:
    return db_session.scalars(
        select(ReferenceProfile).where(
            ReferenceProfile.slo_id == slo_id, ReferenceProfile.model_version == model_version
        )
    ).one_or_none()


def replace_reference_profile(*, db_session: Session, profile: ReferenceProfile) -> None:
    """Store a profile, replacing the SLO's profile for the same model version. An upsert, so two
    processes that built the same profile at once both succeed (the profiles are equal)."""
    statement = insert(ReferenceProfile).values(
        slo_id=profile.slo_id,
        model_version=profile.model_version,
        built_at=profile.built_at,
        reference_rows=profile.reference_rows,
        columns=profile.columns,
        profile=profile.profile,
    )
    db_session.execute(
        statement.on_conflict_do_update(
            index_elements=[ReferenceProfile.slo_id, ReferenceProfile.model_version],
            set_={
                "built_at": statement.excluded.built_at,
                "reference_rows": statement.excluded.reference_rows,
                "columns": statement.excluded.columns,
                "profile": statement.excluded.profile,
            },
        )
    )


def put_drift_scores(
    *, db_session: Session, slo_id: int, measured_at: datetime, scores: Sequence[DriftScore]
) -> None:
    """Replace the scores of one check (a re-run of the same slot gives the same rows)."""
    db_session.execute(
        delete(DriftScore).where(DriftScore.slo_id == slo_id, DriftScore.measured_at == measured_at)
    )
    db_session.add_all(scores)


def drift_scores(*, db_session: Session, slo_id: int, start: datetime, end: datetime) -> Sequence[DriftScore]:
    return db_session.scalars(
        select(DriftScore)
        .where(DriftScore.slo_id == slo_id, DriftScore.measured_at >= start, DriftScore.measured_at < end)
        .order_by(DriftScore.measured_at, DriftScore.model_version, DriftScore.column_name)
    ).all()
