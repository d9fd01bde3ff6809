"""API schemas of the ML SLIs: predictions, late labels, model versions, pushed readings, and the
quality and readiness reports."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.timestamps import Timestamp

MAX_PER_BATCH = 10_000

Identifier = Annotated[str, Field(min_length=1, max_length=200)]
LabelValue = str | int | float | bool
FeatureValue = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictionIn(_Strict):
    """One served prediction. Classifiers send `label` (and optionally `score`, the probability of
    the positive class, or `probabilities` by class); regressors send `value`."""

    id: Identifier = Field(description="The prediction's id; labels refer to it.")
    time: Timestamp = Field(description="When the prediction was served; timezone required.")
    model_version: Identifier
    data_version: Identifier | None = None
    label: LabelValue | None = Field(default=None, description="Predicted class (classifiers).")
    value: float | None = Field(default=None, description="Predicted number (regressors).")
    score: float | None = Field(default=None, description="Probability of the positive class.")
    probabilities: dict[str, float] | None = Field(default=None, description="Probability by class.")
    features: dict[str, FeatureValue] | None = Field(
        default=None, description="Input feature values, for drift and data quality."
    )

    @model_validator(mode="after")
    def _one_prediction(self) -> PredictionIn:
        if (self.label is None) == (self.value is None):
            raise ValueError("give the predicted `label` (classifiers) or `value` (regressors), not both")
        return self

    @field_validator("score")
    @classmethod
    def _probability(cls, score: float | None) -> float | None:
        # NaN and Inf are kept as they are: they are what the data-quality SLI looks for.
        if score is not None and math.isfinite(score) and not 0.0 <= score <= 1.0:
            raise ValueError("a score is a probability, between 0 and 1")
        return score


class PredictionBatch(_Strict):
    predictions: list[PredictionIn] = Field(min_length=1, max_length=MAX_PER_BATCH)


class PredictionIngestResult(BaseModel):
    accepted: int
    already_known: list[str] = Field(description="Ids already stored: not replaced.")
    slos_updated: list[str]


class LabelIn(_Strict):
    prediction_id: Identifier
    label: LabelValue = Field(description="The ground truth: a class, or a number for regressors.")


class LabelBatch(_Strict):
    labels: list[LabelIn] = Field(min_length=1, max_length=MAX_PER_BATCH)


class LabelIngestResult(BaseModel):
    applied: int
    duplicates: list[str] = Field(description="Predictions already labelled: the first label is kept.")
    unknown: list[str] = Field(description="Ids of no stored prediction.")
    slos_updated: list[str]
    earliest_prediction: datetime | None = Field(description="The oldest prediction time the labels touched.")


class LabelProblemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    prediction_id: str
    received_at: datetime
    problem: str
    label: str
    kept_label: str | None


class EvaluationSet(_Strict):
    name: Identifier = Field(description="The fixed evaluation set the metrics were computed on.")
    predictions: list[LabelValue] | None = Field(
        default=None, max_length=1_000_000, description="This version's predictions on the set, in order."
    )
    labels: list[LabelValue] | None = Field(
        default=None, max_length=1_000_000, description="The set's labels, in the same order."
    )


class ModelVersionIn(_Strict):
    version: Identifier
    trained_at: Timestamp
    data_version: Identifier | None = None
    outcome: Literal["succeeded", "failed"] = "succeeded"
    metrics: dict[str, float] = Field(default_factory=dict, description="Quality on the evaluation set.")
    evaluation_set: EvaluationSet | None = None
    serving: bool = Field(default=False, description="Whether this version now serves (for staleness).")

    @model_validator(mode="after")
    def _evaluation(self) -> ModelVersionIn:
        evaluation = self.evaluation_set
        if (
            evaluation is not None
            and evaluation.labels is not None
            and (evaluation.predictions is None or len(evaluation.predictions) != len(evaluation.labels))
        ):
            raise ValueError("evaluation_set.labels need predictions of the same length")
        for name, value in self.metrics.items():
            if not math.isfinite(value):
                raise ValueError(f"metric {name!r} is not a finite number")
        return self


class ModelVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: str
    trained_at: datetime
    registered_at: datetime
    data_version: str | None
    outcome: str
    metrics: dict[str, float]
    evaluation_set: str | None
    serving_since: datetime | None


class ReadingIn(_Strict):
    """A reading computed elsewhere (an offline robustness run, say), pushed for a `push` value SLI."""

    time: Timestamp
    value: float = Field(allow_inf_nan=False)
    model_version: Identifier | None = None
    data_version: Identifier | None = None
    sample_size: int | None = Field(default=None, ge=0)


class ReadingBatch(_Strict):
    readings: list[ReadingIn] = Field(min_length=1, max_length=MAX_PER_BATCH)


class ReadingIngestResult(BaseModel):
    accepted: int


class QualityGroup(BaseModel):
    model_version: str | None = Field(description="None for all versions together.")
    value: float | None = Field(description="The SLI's metric over the labelled predictions.")
    predictions: int
    labelled: int
    labelled_share: float | None


class QualityReport(BaseModel):
    slo: str
    metric: str
    start: datetime
    end: datetime
    overall: QualityGroup
    by_model_version: list[QualityGroup]


class ReadinessTest(BaseModel):
    test: int
    name: str
    points: float
    covered_by: list[str]
    missing: str | None


class ReadinessReport(BaseModel):
    system: str
    phase: str
    score: float
    max_score: float
    tests: list[ReadinessTest]
    minimum_required: float | None
    meets_minimum: bool


def json_safe(value: Any) -> Any:
    """NaN and Inf are not JSON: features keep them as text so that data quality can see them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
