"""Evidently 0.7 as the engine for what mlslo does not fast-path: drift of text columns.

Evidently's text drift trains a domain classifier to tell reference rows from current rows
("Percentile text content drift"): the score is the classifier's ROC AUC, and the column drifts when
that AUC is above the 95th percentile of the AUCs of random splits. It needs the whole reference on
every check (which is why numerical and categorical columns are computed from stored profiles
instead). The result is Evidently's own: `ValueDrift` for the score, `DriftedColumnsCount` for the
decision, run together in one report. Evidently is imported on first use only (it is slow to import).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any

from app.collectors.results import CollectionError

TEXT_METHOD = "text_content_drift"


@dataclass(frozen=True, slots=True)
class TextDrift:
    column: str
    method: str
    threshold: float
    score: float
    drifted: bool
    current_rows: int


@cache
def _evidently() -> SimpleNamespace:
    with warnings.catch_warnings():
        # Evidently's own imports warn about deprecated numpy and litestar modules.
        warnings.simplefilter("ignore", DeprecationWarning)
        import pandas as pd  # type: ignore[import-untyped]
        from evidently import DataDefinition, Dataset, Report
        from evidently.metrics import DriftedColumnsCount, ValueDrift
    return SimpleNamespace(
        pd=pd,
        DataDefinition=DataDefinition,
        Dataset=Dataset,
        Report=Report,
        DriftedColumnsCount=DriftedColumnsCount,
        ValueDrift=ValueDrift,
    )


def text_drift(column: str, reference: Sequence[Any], current: Sequence[Any]) -> TextDrift:
    """Evidently's drift of one text column; missing values are dropped first, as Evidently does."""
    reference_texts = [str(value) for value in reference if _present(value)]
    current_texts = [str(value) for value in current if _present(value)]
    if not reference_texts or not current_texts:
        raise CollectionError(f"text column {column!r} has no values to compare")
    evidently = _evidently()
    definition = evidently.DataDefinition(text_columns=[column])
    value_drift = evidently.ValueDrift(column=column)
    drifted_count = evidently.DriftedColumnsCount(columns=[column])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = evidently.Report([value_drift, drifted_count]).run(
            evidently.Dataset.from_pandas(
                evidently.pd.DataFrame({column: current_texts}), data_definition=definition
            ),
            evidently.Dataset.from_pandas(
                evidently.pd.DataFrame({column: reference_texts}), data_definition=definition
            ),
        )
    metrics = snapshot.dict()["metrics"]
    score = next(m for m in metrics if m["config"]["type"].endswith("ValueDrift"))
    count = next(m for m in metrics if m["config"]["type"].endswith("DriftedColumnsCount"))
    return TextDrift(
        column=column,
        method=TEXT_METHOD,
        threshold=float(score["config"].get("threshold") or 0.95),
        score=float(score["value"]),
        drifted=float(count["value"]["count"]) > 0,
        current_rows=len(current_texts),
    )


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)
