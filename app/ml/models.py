"""ORM models of the ML SLIs: predictions with their late labels, label problems, model versions,
reference profiles for drift, and per-column drift scores."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Prediction(Base):
    """One prediction a system served, and its ground truth once it arrives (possibly days later).

    Classifiers give `predicted_label` (and optionally `score`, the probability of the positive
    class, or `probabilities` by class); regressors give `predicted_value`. Labels are kept as text
    (`label`, numbers written canonically so 1 and 1.0 agree) and, when numeric, as `label_value`."""

    __tablename__ = "prediction"
    __table_args__ = (
        Index("ix_prediction_system_time", "system_id", "predicted_at"),
        CheckConstraint(
            "predicted_label IS NOT NULL OR predicted_value IS NOT NULL", name="has_a_prediction"
        ),
    )

    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), primary_key=True)
    prediction_id: Mapped[str] = mapped_column(Text, primary_key=True)
    predicted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model_version: Mapped[str] = mapped_column(Text)
    data_version: Mapped[str | None] = mapped_column(Text)
    predicted_label: Mapped[str | None] = mapped_column(Text)
    predicted_value: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    probabilities: Mapped[dict[str, float] | None] = mapped_column(JSONB)
    features: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    label: Mapped[str | None] = mapped_column(Text)
    label_value: Mapped[float | None] = mapped_column(Float)
    labelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LabelProblem(Base):
    """A label that was not applied: a second label for a labelled prediction, or a label for an
    unknown prediction id. Kept so that nothing is silently merged or lost."""

    __tablename__ = "label_problem"
    __table_args__ = (CheckConstraint("problem IN ('duplicate', 'unknown_prediction')", name="problem"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), index=True)
    prediction_id: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    problem: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text)
    # For duplicates: the label already stored, which was kept.
    kept_label: Mapped[str | None] = mapped_column(Text)


class ModelVersion(Base):
    """A trained model version: when it was trained, on which data, its outcome, and its metrics
    (and optionally its predictions) on a fixed evaluation set."""

    __tablename__ = "model_version"
    __table_args__ = (
        UniqueConstraint("system_id", "version"),
        CheckConstraint("outcome IN ('succeeded', 'failed')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(Text)
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data_version: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, float]] = mapped_column(JSONB)
    evaluation_set: Mapped[str | None] = mapped_column(Text)
    evaluation_predictions: Mapped[list[Any] | None] = mapped_column(JSONB)
    evaluation_labels: Mapped[list[Any] | None] = mapped_column(JSONB)
    serving_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReferenceProfile(Base):
    """The statistics of a drift SLO's reference dataset, built once per model version (the
    reference may name `{model_version}`) so that each drift check reads only the current data."""

    __tablename__ = "reference_profile"
    __table_args__ = (UniqueConstraint("slo_id", "model_version"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(Text)
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reference_rows: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[dict[str, str]] = mapped_column(JSONB)
    profile: Mapped[bytes] = mapped_column(LargeBinary)


class DriftScore(Base):
    """One column's drift in one check: the score, its method and threshold, and which way means
    drift (p-values: lower; distances: higher)."""

    __tablename__ = "drift_score"

    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"), primary_key=True)
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    model_version: Mapped[str] = mapped_column(Text, primary_key=True)
    column_name: Mapped[str] = mapped_column(Text, primary_key=True)
    method: Mapped[str] = mapped_column(Text)
    threshold: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    drifted: Mapped[bool] = mapped_column(Boolean)
    drift_when: Mapped[str] = mapped_column(Text)
    current_rows: Mapped[int] = mapped_column(BigInteger)
