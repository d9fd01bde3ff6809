"""Drift and data-quality SLOs collected from source `evidently`, end to end: predictions with their
features are pushed through the API, the scheduled collector checks each window against a reference file
in the definitions folder, and the stored readings and per-column scores are compared with Evidently 0.7's
``DataDriftPreset`` run here on the same reference and current rows.

Real data and real shifts from scikit-learn's bundled datasets: breast cancer with a feature in other units
and a changed category mapping, wine and breast cancer subpopulations, and handwritten digits (more than
1000 reference rows, so Wasserstein and Jensen-Shannon instead of KS, chi-square and the z-test).

Each test runs on its own scratch database: collections run in a thread pool and open their own sessions,
which a per-test connection shared between threads would not allow.

Warnings: importing Evidently 0.7.23 raises numpy's "numpy.core is deprecated" and litestar's deprecation
warnings (ignored around that import only, as in tests/unit/test_drift.py); Evidently's chi-square divides
by the zero expected count of a category the reference never had (numpy: "divide by zero encountered in
divide"), ignored only in the test with such a category.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_linnerud,
    load_wine,
)
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from app import migrations
from app.auth.service import Scope
from app.clock import ManualClock
from app.collectors.jobs import SourceCollectors
from app.collectors.models import CollectorRun
from app.collectors.service import CollectionReport, collect_due
from app.config import Settings
from app.core.drift import METHODS, sample_rows
from app.db import SessionFactory, create_session_factory, transaction
from app.evaluation import service as evaluation_service
from app.evaluation.models import Breach
from app.main import AppDependencies, create_app
from app.measurements.models import SliSample
from app.ml import drift as ml_drift
from app.ml.models import DriftScore, ReferenceProfile
from app.slos.models import Slo
from tests.conftest import TEST_START, create_scratch_database, make_key
from tests.evidently_oracle import evidently as _evidently

SCORE_TOLERANCE = 1e-9
HOUR = timedelta(hours=1)
APPLY = "/api/v1/slo-definitions/apply"
METHOD_BY_DISPLAY_NAME = {spec.display_name: method.value for method, spec in METHODS.items()}


# --------------------------------------------------------------------------------------------------------
# Evidently oracle
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """Evidently's verdict: per column (method, threshold, score, drifted), and the drifted share."""

    columns: dict[str, tuple[str, float, float, bool]]
    share: float


def evidently_drift(
    reference: pd.DataFrame, current: pd.DataFrame, numerical: Sequence[str], categorical: Sequence[str]
) -> Expected:
    ev = _evidently()
    definition = ev.DataDefinition(numerical_columns=list(numerical), categorical_columns=list(categorical))
    columns = [*numerical, *categorical]
    snapshot = ev.Report([ev.Preset()], include_tests=True).run(
        ev.Dataset.from_pandas(current[columns], data_definition=definition),
        ev.Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    result = snapshot.dict()
    failed = {
        test["metric_config"]["params"]["column"]
        for test in result["tests"]
        if test["metric_config"]["params"]["type"].endswith("ValueDrift") and test["status"] == "FAIL"
    }
    count = next(m for m in result["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount"))
    return Expected(
        columns={
            metric["config"]["column"]: (
                METHOD_BY_DISPLAY_NAME[metric["config"]["method"]],
                float(metric["config"]["threshold"]),
                float(metric["value"]),
                metric["config"]["column"] in failed,
            )
            for metric in result["metrics"]
            if metric["config"]["type"].endswith("ValueDrift")
        },
        share=float(count["value"]["share"]),
    )


def assert_scores_equal(scores: Sequence[dict[str, Any]], expected: Expected) -> None:
    """Stored per-column scores (as the drift endpoint gives them) against Evidently's."""
    ours = {score["column"]: score for score in scores}
    assert set(ours) == set(expected.columns)
    for name, (method, threshold, score, drifted) in expected.columns.items():
        stored = ours[name]
        assert (stored["method"], stored["threshold"], stored["drifted"]) == (method, threshold, drifted), (
            name
        )
        assert math.isclose(stored["score"], score, rel_tol=0, abs_tol=SCORE_TOLERANCE), (
            name,
            stored["score"],
            score,
        )
        assert stored["drift_when"] == ("below" if method in ("ks", "chisquare", "z") else "at_or_above")


# --------------------------------------------------------------------------------------------------------
# A deployment: scratch database, API, collector
# --------------------------------------------------------------------------------------------------------


@dataclass
class Deployment:
    session_factory: SessionFactory
    clock: ManualClock
    client: TestClient
    headers: dict[str, str]
    definitions: Path
    settings: Settings
    system: str = "scoring"

    def apply(self, slos: str) -> None:
        content = "apiVersion: mlslo/v1\nkind: SLOSet\nslos:\n" + slos
        answer = self.client.post(
            APPLY,
            json={"files": [{"path": f"{self.system}/technical_validation.yaml", "content": content}]},
            headers=self.headers,
        )
        assert answer.status_code == 200, answer.text

    def push(
        self,
        features: Sequence[dict[str, Any]],
        *,
        start: datetime,
        prefix: str,
        versions: Sequence[str] | None = None,
        scores: Sequence[float] | None = None,
    ) -> list[str]:
        """One prediction per feature row, spread evenly over the hour from `start`, in order (ids
        sort like the times, as the collector reads them). JSON is written here, so that a NaN score
        reaches the API as `NaN`."""
        ids = [f"{prefix}-{i:05d}" for i in range(len(features))]
        predictions = []
        for i, row in enumerate(features):
            prediction: dict[str, Any] = {
                "id": ids[i],
                "time": (start + i * HOUR / len(features)).isoformat(),
                "model_version": versions[i] if versions else "v1",
                "label": "positive",
                "features": row,
            }
            if scores is not None:
                prediction["score"] = scores[i]
            predictions.append(prediction)
        answer = self.client.post(
            f"/api/v1/systems/{self.system}/predictions",
            content=json.dumps({"predictions": predictions}),
            headers={**self.headers, "Content-Type": "application/json"},
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == len(features)
        return ids

    def collect(self) -> CollectionReport:
        with httpx.Client() as http_client:
            return collect_due(
                session_factory=self.session_factory,
                clock=self.clock,
                http_client=http_client,
                collectors=SourceCollectors(
                    session_factory=self.session_factory, clock=self.clock, definitions_dir=self.definitions
                ),
                node="test",
            )

    def evaluate(self) -> evaluation_service.EvaluationReport:
        with transaction(self.session_factory) as db_session:
            return evaluation_service.evaluate_all(
                db_session=db_session, clock=self.clock, settings=self.settings
            )

    def slo_id(self, name: str) -> int:
        with self.session_factory() as db_session:
            return db_session.scalars(select(Slo.id).where(Slo.name == name)).one()

    def readings(self, slo: str, at: datetime) -> dict[str | None, dict[str, Any]]:
        """The readings of one check by model version (None: the SLI as a whole), from the API."""
        answer = self.client.get(
            f"/api/v1/systems/{self.system}/slos/{slo}/samples",
            params={"from": at.isoformat(), "to": (at + timedelta(minutes=1)).isoformat()},
            headers=self.headers,
        )
        assert answer.status_code == 200, answer.text
        return {item["model_version"]: item for item in answer.json()}

    def scores(self, slo: str, at: datetime, version: str | None = None) -> list[dict[str, Any]]:
        answer = self.client.get(
            f"/api/v1/systems/{self.system}/slos/{slo}/drift",
            params={"from": at.isoformat(), "to": (at + timedelta(minutes=1)).isoformat()},
            headers=self.headers,
        )
        assert answer.status_code == 200, answer.text
        return [item for item in answer.json() if item["model_version"] == version]


@pytest.fixture
def deployment(postgres_admin_url: str, settings: Settings, tmp_path: Path) -> Iterator[Deployment]:
    engine: Engine = create_engine(create_scratch_database(postgres_admin_url, "mlslo_drift"))
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    clock = ManualClock(TEST_START)
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    app = create_app(
        AppDependencies(settings=settings, engine=engine, session_factory=session_factory, clock=clock)
    )
    headers = {"Authorization": f"Bearer {make_key(session_factory, clock, 'admin', Scope.ADMIN)}"}
    with TestClient(app) as client:
        registered = client.post(
            "/api/v1/systems", json={"name": "scoring", "phase": "technical_validation"}, headers=headers
        )
        assert registered.status_code == 201, registered.text
        yield Deployment(session_factory, clock, client, headers, definitions, settings)
    engine.dispose()


def drift_slo(name: str, evidently: str, *, kind: str = "data_drift", metric: str = "drift_share") -> str:
    return (
        f"  - name: {name}\n"
        f"    sli:\n"
        f"      kind: {kind}\n"
        f"      source: evidently\n"
        f"      metric: {metric}\n"
        f"      collect_every: 1h\n"
        f"      evidently: {evidently}\n"
        f"    objectives: [{{target: 0.95, value: 0.3}}]\n"
        f"    time_slice: {{window: 1h}}\n"
        f"    window: 7d\n"
    )


# --------------------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------------------


def sklearn_frame(loader: Any) -> pd.DataFrame:
    data = loader()
    names = [str(name).replace(" ", "_").replace("/", "_") for name in data.feature_names]
    frame = pd.DataFrame(data.data, columns=names)
    frame["target"] = data.target
    return frame


def split(frame: pd.DataFrame, first: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    return (
        frame.iloc[order[:first]].reset_index(drop=True),
        frame.iloc[order[first:]].reset_index(drop=True),
    )


def band(values: pd.Series, edges_from: pd.Series, labels: Sequence[str]) -> pd.Series:
    """Quantile bands of `values`, with the quantiles of `edges_from` (the reference)."""
    inner = edges_from.quantile(np.linspace(0, 1, len(labels) + 1)[1:-1]).to_numpy()
    return pd.Series(np.asarray(labels, dtype=object)[np.searchsorted(inner, values, side="right")])


def feature_rows(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """JSON-ready feature dicts: Python floats and strings."""
    return [
        {
            name: (value if isinstance(value, str) else float(value))
            for name, value in zip(columns, row, strict=True)
        }
        for row in frame[list(columns)].itertuples(index=False)
    ]


def current_frame(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """The current window as Evidently gets it: the pushed feature values, in the collector's order."""
    return pd.DataFrame.from_records(list(rows), columns=list(columns))


# --------------------------------------------------------------------------------------------------------
# 1. The stored share and every column score equal Evidently's
# --------------------------------------------------------------------------------------------------------

CANCER_NUMERICAL = [
    "mean_radius",
    "mean_texture",
    "mean_area",
    "mean_smoothness",
    "mean_concavity",
    "worst_radius",
    "worst_symmetry",
    "area_error",
]
CANCER_CATEGORICAL = ["texture_band", "diagnosis"]


def cancer_with_categories(frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["texture_band"] = band(
        frame["mean_texture"], reference["mean_texture"], ["low", "mid", "high", "very_high"]
    )
    frame["diagnosis"] = np.where(frame["target"] == 1, "benign", "malignant").astype(object)
    return frame


def test_drift_share_and_column_scores_equal_evidently_small_reference(deployment: Deployment) -> None:
    """Breast cancer, 300 reference rows (KS, chi-square, z-test). The current hour's other rows report
    `mean_area` in other units (x 1.5) and bin texture with a changed mapping (low -> mid, very_high -> high)."""
    cancer = sklearn_frame(load_breast_cancer)
    reference, current = split(cancer, 300, seed=1)
    current = cancer_with_categories(current, reference)
    reference = cancer_with_categories(reference, reference)
    current["mean_area"] = current["mean_area"] * 1.5
    current["texture_band"] = current["texture_band"].replace({"low": "mid", "very_high": "high"})
    columns = CANCER_NUMERICAL + CANCER_CATEGORICAL
    # The file has more columns than the SLO compares.
    reference[[*columns, "worst_area"]].to_csv(deployment.definitions / "reference.csv", index=False)
    deployment.apply(drift_slo("input-drift", f"{{reference: {{path: reference.csv}}, columns: {columns}}}"))
    slot = TEST_START
    rows = feature_rows(current, columns)
    deployment.push(rows, start=slot - HOUR, prefix="c")

    deployment.clock.advance(timedelta(seconds=30))
    report = deployment.collect()

    assert report.failed == []
    expected = evidently_drift(
        pd.read_csv(deployment.definitions / "reference.csv"),
        current_frame(rows, columns),
        CANCER_NUMERICAL,
        CANCER_CATEGORICAL,
    )
    window_start = slot - HOUR
    readings = deployment.readings("input-drift", window_start)
    assert set(readings) == {None, "v1"}
    assert readings[None]["value"] == pytest.approx(expected.share, abs=1e-12)
    assert readings[None]["sample_size"] == len(rows)
    assert readings["v1"]["value"] == readings[None]["value"]
    scores = deployment.scores("input-drift", window_start)
    assert_scores_equal(scores, expected)
    assert {s["method"] for s in scores} == {"ks", "chisquare", "z"}
    drifted = {name for name, (_, _, _, is_drifted) in expected.columns.items() if is_drifted}
    assert {"mean_area", "texture_band"} <= drifted
    assert drifted < set(columns)
    assert {s["current_rows"] for s in scores} == {len(rows)}
    assert_scores_equal(deployment.scores("input-drift", window_start, "v1"), expected)


DIGIT_PIXELS = [f"pixel_{row}_{col}" for row in (1, 3, 5) for col in (2, 3, 4, 5)] + [
    "pixel_0_2",
    "pixel_7_3",
]


def test_drift_share_and_column_scores_equal_evidently_large_reference(deployment: Deployment) -> None:
    """Handwritten digits, 1200 reference rows in a Parquet file (Wasserstein, Jensen-Shannon); the current
    hour sees no zeros (the other rows without the digit 0)."""
    digits = sklearn_frame(load_digits)
    digits["digit"] = [f"d{target}" for target in digits["target"]]
    reference, current = split(digits, 1200, seed=2)
    current = current[current["target"] != 0].reset_index(drop=True)
    columns = [*DIGIT_PIXELS, "digit"]
    (deployment.definitions / "refs").mkdir()
    reference[columns].to_parquet(deployment.definitions / "refs" / "digits.parquet")
    deployment.apply(drift_slo("pixel-drift", "{reference: {path: refs/digits.parquet}}"))
    rows = feature_rows(current, columns)
    deployment.push(rows, start=TEST_START - HOUR, prefix="d")

    deployment.clock.advance(timedelta(minutes=2))
    assert deployment.collect().failed == []

    expected = evidently_drift(
        pd.read_parquet(deployment.definitions / "refs" / "digits.parquet"),
        current_frame(rows, columns),
        DIGIT_PIXELS,
        ["digit"],
    )
    window_start = TEST_START - HOUR
    reading = deployment.readings("pixel-drift", window_start)[None]
    assert reading["value"] == pytest.approx(expected.share, abs=1e-12)
    scores = deployment.scores("pixel-drift", window_start)
    assert_scores_equal(scores, expected)
    assert {s["method"] for s in scores} == {"wasserstein", "jensenshannon"}
    assert 0 < expected.share < 1
    with deployment.session_factory() as db_session:
        (profile,) = db_session.scalars(select(ReferenceProfile)).all()
        assert (profile.model_version, profile.reference_rows) == ("", 1200)
        assert profile.columns == dict.fromkeys(DIGIT_PIXELS, "numerical") | {"digit": "categorical"}


# --------------------------------------------------------------------------------------------------------
# 2. No shift: a low share and no breach; a real shift breaches within one collection interval
# --------------------------------------------------------------------------------------------------------


def test_no_shift_stays_within_the_slo_and_a_real_shift_breaches(deployment: Deployment) -> None:
    """Wine: the reference is a random half; the first hour's rows are the other half (the same
    distribution); the next hour serves only strong wines (alcohol above the 60th percentile)."""
    wine = sklearn_frame(load_wine)
    features = [c for c in wine.columns if c != "target"]
    reference, held_out = split(wine, 89, seed=3)
    reference[features].to_csv(deployment.definitions / "wine.csv", index=False)
    deployment.apply(drift_slo("wine-drift", "{reference: {path: wine.csv}}"))
    same = feature_rows(held_out, features)
    strong = feature_rows(held_out[held_out["alcohol"] > wine["alcohol"].quantile(0.6)], features)
    deployment.push(same, start=TEST_START - HOUR, prefix="same")
    reference_read = pd.read_csv(deployment.definitions / "wine.csv")

    deployment.clock.advance(timedelta(seconds=30))
    assert deployment.collect().failed == []
    first = deployment.evaluate()

    no_shift = evidently_drift(reference_read, current_frame(same, features), features, [])
    value = deployment.readings("wine-drift", TEST_START - HOUR)[None]["value"]
    assert value == pytest.approx(no_shift.share, abs=1e-12)
    assert value <= 0.1
    assert first.breaches_opened == []

    deployment.clock.advance(HOUR)
    deployment.push(strong, start=TEST_START, prefix="strong")
    assert deployment.collect().failed == []
    second = deployment.evaluate()

    shifted = evidently_drift(reference_read, current_frame(strong, features), features, [])
    value = deployment.readings("wine-drift", TEST_START)[None]["value"]
    assert value == pytest.approx(shifted.share, abs=1e-12)
    assert value > 0.3
    assert_scores_equal(deployment.scores("wine-drift", TEST_START), shifted)
    (opened,) = second.breaches_opened
    with deployment.session_factory() as db_session:
        breach = db_session.get(Breach, opened)
        assert breach is not None
        assert breach.slo_id == deployment.slo_id("wine-drift")
        assert breach.opened_at == TEST_START + HOUR + timedelta(seconds=30)


# --------------------------------------------------------------------------------------------------------
# 3. A reference per model version, profiled once and reused
# --------------------------------------------------------------------------------------------------------


def test_per_version_references_are_profiled_once_and_reused(deployment: Deployment) -> None:
    """Breast cancer: v1 was trained on rows with `mean_area` in the original units, v2 on rows in the new
    units (x 1.5). The hour's first half is served by v1 on original units, the second half by v2 on the
    new units: each version is compared with its own reference, the whole hour with the reference of the
    version served last. The reference files are then deleted: the next hour is checked from the stored
    profiles."""
    cancer = sklearn_frame(load_breast_cancer)
    columns = CANCER_NUMERICAL
    ref_v1, rest = split(cancer, 200, seed=4)
    ref_v2, current = split(rest, 200, seed=5)
    ref_v2["mean_area"] = ref_v2["mean_area"] * 1.5
    refs = deployment.definitions / "refs"
    refs.mkdir()
    ref_v1[columns].to_csv(refs / "v1.csv", index=False)
    ref_v2[columns].to_csv(refs / "v2.csv", index=False)
    stored_refs = {version: pd.read_csv(refs / f"{version}.csv") for version in ("v1", "v2")}
    deployment.apply(drift_slo("versioned-drift", "{reference: {path: 'refs/{model_version}.csv'}}"))
    half = len(current) // 2
    served = current.copy()
    served.loc[half:, "mean_area"] = served.loc[half:, "mean_area"] * 1.5
    rows = feature_rows(served, columns)
    versions = ["v1"] * half + ["v2"] * (len(rows) - half)
    deployment.push(rows, start=TEST_START - HOUR, prefix="w1", versions=versions)

    deployment.clock.advance(timedelta(seconds=30))
    assert deployment.collect().failed == []

    window = current_frame(rows, columns)
    expected = {
        "v1": evidently_drift(stored_refs["v1"], window.iloc[:half], columns, []),
        "v2": evidently_drift(stored_refs["v2"], window.iloc[half:], columns, []),
        None: evidently_drift(stored_refs["v2"], window, columns, []),
    }
    readings = deployment.readings("versioned-drift", TEST_START - HOUR)
    assert set(readings) == {None, "v1", "v2"}
    for version, verdict in expected.items():
        assert readings[version]["value"] == pytest.approx(verdict.share, abs=1e-12), version
        assert_scores_equal(deployment.scores("versioned-drift", TEST_START - HOUR, version), verdict)
    assert (readings["v1"]["sample_size"], readings["v2"]["sample_size"]) == (half, len(rows) - half)
    # Each version on its own reference: no unit change; the whole hour against v2's: half of it is.
    assert not expected["v1"].columns["mean_area"][3]
    assert not expected["v2"].columns["mean_area"][3]
    assert expected[None].columns["mean_area"][3]

    def profiles() -> list[tuple[str, datetime, int, bytes]]:
        with deployment.session_factory() as db_session:
            stored = db_session.scalars(select(ReferenceProfile).order_by(ReferenceProfile.model_version))
            return [(p.model_version, p.built_at, p.reference_rows, p.profile) for p in stored]

    built = profiles()
    assert [(version, at, count) for version, at, count, _ in built] == [
        ("v1", deployment.clock.now(), 200),
        ("v2", deployment.clock.now(), 200),
    ]

    # The files are gone: the next hour (v1 only, its rows in the new units) is checked from the profiles.
    (refs / "v1.csv").unlink()
    (refs / "v2.csv").unlink()
    deployment.clock.advance(HOUR)
    later = current.copy()
    later["mean_area"] = later["mean_area"] * 1.5
    later_rows = feature_rows(later, columns)
    deployment.push(later_rows, start=TEST_START, prefix="w2", versions=["v1"] * len(later_rows))

    assert deployment.collect().failed == []

    verdict = evidently_drift(stored_refs["v1"], current_frame(later_rows, columns), columns, [])
    readings = deployment.readings("versioned-drift", TEST_START)
    assert set(readings) == {None, "v1"}
    assert readings[None]["value"] == pytest.approx(verdict.share, abs=1e-12)
    assert_scores_equal(deployment.scores("versioned-drift", TEST_START), verdict)
    assert verdict.columns["mean_area"][3]
    assert profiles() == built


# --------------------------------------------------------------------------------------------------------
# 4. Windows larger than sample_size are sampled reproducibly
# --------------------------------------------------------------------------------------------------------


def test_a_large_window_is_sampled_reproducibly_and_the_sample_size_recorded(deployment: Deployment) -> None:
    """Breast cancer: 250 reference rows; the hour's 319 other rows, of which 120 are checked, chosen with
    the slot's time as the seed."""
    cancer = sklearn_frame(load_breast_cancer)
    reference, current = split(cancer, 250, seed=6)
    columns = CANCER_NUMERICAL
    reference[columns].to_csv(deployment.definitions / "reference.csv", index=False)
    config = "{reference: {path: reference.csv}, sample_size: 120}"
    deployment.apply(drift_slo("sampled-drift", config))
    rows = feature_rows(current, columns)
    deployment.push(rows, start=TEST_START - HOUR, prefix="s")

    deployment.clock.advance(timedelta(seconds=30))
    assert deployment.collect().failed == []

    chosen = sample_rows(len(rows), 120, seed=int(TEST_START.timestamp()))
    expected = evidently_drift(
        pd.read_csv(deployment.definitions / "reference.csv"),
        current_frame(rows, columns).iloc[chosen].reset_index(drop=True),
        columns,
        [],
    )
    reading = deployment.readings("sampled-drift", TEST_START - HOUR)[None]
    assert reading["sample_size"] == 120
    assert reading["value"] == pytest.approx(expected.share, abs=1e-12)
    scores = deployment.scores("sampled-drift", TEST_START - HOUR)
    assert_scores_equal(scores, expected)
    assert {s["current_rows"] for s in scores} == {120}

    # The same slot checked again gives the same sample and the same result; another slot another sample.
    def check(slot: datetime) -> ml_drift.Reading:
        return ml_drift.check(
            session_factory=deployment.session_factory,
            clock=deployment.clock,
            slo_id=deployment.slo_id("sampled-drift"),
            system_id=_system_id(deployment, "sampled-drift"),
            metric="drift_share",
            column=None,
            config={"reference": {"path": "reference.csv"}, "sample_size": 120},
            window_start=TEST_START - HOUR,
            window_end=slot,
            base_dir=deployment.definitions,
        )

    assert check(TEST_START).value == reading["value"]
    assert check(TEST_START).value == reading["value"]
    assert not np.array_equal(chosen, sample_rows(len(rows), 120, seed=int((TEST_START + HOUR).timestamp())))


def _system_id(deployment: Deployment, slo: str) -> int:
    with deployment.session_factory() as db_session:
        return db_session.scalars(select(Slo.system_id).where(Slo.name == slo)).one()


# --------------------------------------------------------------------------------------------------------
# 5. invalid_share: missing, out-of-range, unseen, NaN
# --------------------------------------------------------------------------------------------------------


def test_invalid_share_counts_missing_out_of_range_unseen_and_nan_rows(deployment: Deployment) -> None:
    """Wine with an alcohol band: 100 reference rows; the hour's 78 other rows, some of them naturally
    outside the reference's range, plus a missing value, a null, a NaN feature, an unseen band, a value in
    other units and a NaN score."""
    wine = sklearn_frame(load_wine)
    numerical = [c for c in wine.columns if c != "target"]
    reference, current = split(wine, 100, seed=7)
    labels = ["light", "medium", "strong"]
    reference["alcohol_band"] = band(reference["alcohol"], reference["alcohol"], labels)
    current["alcohol_band"] = band(current["alcohol"], reference["alcohol"], labels)
    columns = [*numerical, "alcohol_band"]
    reference[columns].to_csv(deployment.definitions / "reference.csv", index=False)
    deployment.apply(
        drift_slo(
            "validity", "{reference: {path: reference.csv}}", kind="data_quality", metric="invalid_share"
        )
    )
    rows = feature_rows(current, columns)
    scores = [0.9] * len(rows)
    del rows[0]["magnesium"]
    rows[1]["flavanoids"] = None
    rows[2]["proline"] = math.nan
    rows[3]["alcohol_band"] = "extreme"
    rows[4]["color_intensity"] = rows[4]["color_intensity"] * 10
    scores[5] = math.nan
    deployment.push(rows, start=TEST_START - HOUR, prefix="q", scores=scores)

    deployment.clock.advance(timedelta(seconds=30))
    assert deployment.collect().failed == []

    reference_read = pd.read_csv(deployment.definitions / "reference.csv")
    low, high = reference_read[numerical].min(), reference_read[numerical].max()
    known = set(reference_read["alcohol_band"])

    def invalid(row: dict[str, Any], score: float) -> bool:
        numbers = [row.get(name) for name in numerical]
        return (
            math.isnan(score)
            or row.get("alcohol_band") not in known
            or any(
                value is None or not low[name] <= value <= high[name]
                for name, value in zip(numerical, numbers, strict=True)
            )
        )

    flags = [invalid(row, score) for row, score in zip(rows, scores, strict=True)]
    assert flags[:6] == [True] * 6
    assert 6 < sum(flags) < len(rows)  # some held-out rows are outside the reference's range on their own
    reading = deployment.readings("validity", TEST_START - HOUR)[None]
    assert reading["value"] == sum(flags) / len(rows)
    assert reading["sample_size"] == len(rows)
    assert deployment.scores("validity", TEST_START - HOUR) == []


# --------------------------------------------------------------------------------------------------------
# 6. A window without pushed features is a gap
# --------------------------------------------------------------------------------------------------------


def test_a_window_without_features_is_a_gap(deployment: Deployment) -> None:
    cancer = sklearn_frame(load_breast_cancer)
    cancer[CANCER_NUMERICAL].to_csv(deployment.definitions / "reference.csv", index=False)
    deployment.apply(drift_slo("input-drift", "{reference: {path: reference.csv}}"))
    # Predictions without features in the hour; features only after it.
    answer = deployment.client.post(
        "/api/v1/systems/scoring/predictions",
        json={
            "predictions": [
                {
                    "id": f"n{i}",
                    "time": (TEST_START - HOUR + i * timedelta(minutes=5)).isoformat(),
                    "model_version": "v1",
                    "label": "positive",
                }
                for i in range(12)
            ]
        },
        headers=deployment.headers,
    )
    assert answer.status_code == 202, answer.text
    deployment.clock.advance(timedelta(seconds=30))
    late = {
        "id": "late",
        "time": (TEST_START + timedelta(seconds=10)).isoformat(),
        "model_version": "v1",
        "label": "positive",
        "features": feature_rows(cancer.iloc[:1], CANCER_NUMERICAL)[0],
    }
    answer = deployment.client.post(
        "/api/v1/systems/scoring/predictions", json={"predictions": [late]}, headers=deployment.headers
    )
    assert answer.status_code == 202, answer.text

    report = deployment.collect()

    slo_id = deployment.slo_id("input-drift")
    assert (report.collected, report.failed) == ([], [slo_id])
    with deployment.session_factory() as db_session:
        (run,) = db_session.scalars(select(CollectorRun).where(CollectorRun.slo_id == slo_id)).all()
        assert run.outcome == "failed"
        assert run.error is not None
        assert "no current data in the window" in run.error
        assert db_session.scalars(select(SliSample).where(SliSample.slo_id == slo_id)).all() == []
        assert db_session.scalars(select(DriftScore).where(DriftScore.slo_id == slo_id)).all() == []
        assert db_session.scalars(select(ReferenceProfile)).all() == []
    assert deployment.readings("input-drift", TEST_START - HOUR) == {}


# --------------------------------------------------------------------------------------------------------
# The current data from a file (`evidently.current`), with missing values
# --------------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:divide by zero encountered in divide:RuntimeWarning")
def test_a_current_file_with_missing_values_is_checked_like_evidently(deployment: Deployment) -> None:
    """Breast cancer halves as files: the current file lacks some texture bands and areas (empty CSV
    cells, NaN to pandas) and has one band the reference never had. Drift drops the missing values as
    Evidently does (a missing band is not a category); data quality counts them as invalid."""
    cancer = sklearn_frame(load_breast_cancer)
    reference, current = split(cancer, 300, seed=8)
    current = cancer_with_categories(current, reference)
    reference = cancer_with_categories(reference, reference)
    columns = CANCER_NUMERICAL + CANCER_CATEGORICAL
    current.loc[[3, 10, 40, 41], "texture_band"] = np.nan
    current.loc[[10, 60], "mean_area"] = np.nan
    current.loc[[70], "texture_band"] = "unknown"
    reference[columns].to_csv(deployment.definitions / "reference.csv", index=False)
    current[columns].to_csv(deployment.definitions / "current.csv", index=False)
    files = "{reference: {path: reference.csv}, current: {path: current.csv}}"
    deployment.apply(
        drift_slo("file-drift", files)
        + drift_slo("file-validity", files, kind="data_quality", metric="invalid_share")
    )

    deployment.clock.advance(timedelta(seconds=30))
    assert deployment.collect().failed == []

    reference_read = pd.read_csv(deployment.definitions / "reference.csv")
    current_read = pd.read_csv(deployment.definitions / "current.csv")
    expected = evidently_drift(reference_read, current_read, CANCER_NUMERICAL, CANCER_CATEGORICAL)
    assert deployment.readings("file-drift", TEST_START - HOUR)[None]["value"] == pytest.approx(
        expected.share, abs=1e-12
    )
    scores = deployment.scores("file-drift", TEST_START - HOUR)
    assert_scores_equal(scores, expected)
    by_column = {s["column"]: s for s in scores}
    assert by_column["texture_band"]["current_rows"] == len(current) - 4
    assert by_column["mean_area"]["current_rows"] == len(current) - 2

    low, high = reference_read[CANCER_NUMERICAL].min(), reference_read[CANCER_NUMERICAL].max()
    numbers = current_read[CANCER_NUMERICAL]
    invalid = (
        numbers.isna().any(axis=1)
        | (numbers < low).any(axis=1)
        | (numbers > high).any(axis=1)
        | ~current_read["texture_band"].isin(set(reference_read["texture_band"]))
        | ~current_read["diagnosis"].isin(set(reference_read["diagnosis"]))
    )
    assert invalid[[3, 10, 40, 41, 60, 70]].all()
    validity = deployment.readings("file-validity", TEST_START - HOUR)[None]
    assert validity["value"] == int(invalid.sum()) / len(current)


def test_a_reference_changed_by_re_applying_the_slo_is_profiled_again(deployment: Deployment) -> None:
    """The SLO keeps its id when re-applied: a profile of the old reference must not be reused after the
    definition names another reference file and other columns."""
    wine = sklearn_frame(load_wine)
    features = [c for c in wine.columns if c != "target"]
    reference, held_out = split(wine, 89, seed=9)
    reference[features].to_csv(deployment.definitions / "wine.csv", index=False)
    strong = reference[reference["alcohol"] > wine["alcohol"].median()]
    strong[features].to_csv(deployment.definitions / "strong-wine.csv", index=False)
    deployment.apply(drift_slo("wine-drift", "{reference: {path: wine.csv}}"))
    rows = feature_rows(held_out, features)
    deployment.push(rows, start=TEST_START - HOUR, prefix="a")
    deployment.clock.advance(timedelta(seconds=30))
    assert deployment.collect().failed == []

    deployment.clock.advance(timedelta(minutes=30))
    columns = features[:6]
    deployment.apply(drift_slo("wine-drift", f"{{reference: {{path: strong-wine.csv}}, columns: {columns}}}"))
    deployment.clock.advance(timedelta(minutes=30))
    deployment.push(rows, start=TEST_START, prefix="b")
    assert deployment.collect().failed == []

    expected = evidently_drift(
        pd.read_csv(deployment.definitions / "strong-wine.csv"), current_frame(rows, columns), columns, []
    )
    assert deployment.readings("wine-drift", TEST_START)[None]["value"] == pytest.approx(
        expected.share, abs=1e-12
    )
    assert_scores_equal(deployment.scores("wine-drift", TEST_START), expected)
    with deployment.session_factory() as db_session:
        (profile,) = db_session.scalars(select(ReferenceProfile)).all()
        assert (profile.built_at, profile.reference_rows) == (deployment.clock.now(), len(strong))
        assert set(profile.columns) == set(columns)


def _sentences(*loaders: Any) -> list[str]:
    """Real English text: the sentences of scikit-learn's dataset descriptions."""
    sentences: list[str] = []
    for loader in loaders:
        description = loader().DESCR
        sentences += [part.strip() for part in re.split(r"[.\n]\s*", description) if len(part.strip()) > 20]
    return sentences


def test_text_columns_are_handed_to_evidently_and_count_in_the_drift_share(deployment: Deployment) -> None:
    """A free-text column is not fast-pathed: Evidently's text drift judges it on the whole reference.
    The reference describes the breast cancer and wine datasets; the current hour describes others."""
    reference_text = _sentences(load_breast_cancer, load_wine)
    current_text = _sentences(load_diabetes, load_digits, load_iris, load_linnerud)
    rng = np.random.default_rng(5)
    reference = pd.DataFrame(
        {"note": reference_text, "length": [float(len(text)) for text in reference_text]}
    )
    reference.to_csv(deployment.definitions / "notes.csv", index=False)
    deployment.apply(
        drift_slo(
            "notes-drift", "{reference: {path: notes.csv}, columns: [length, note], text_columns: [note]}"
        )
    )
    rows = [{"note": text, "length": float(len(text))} for text in current_text]
    rng.shuffle(rows)
    deployment.push(rows, start=TEST_START - HOUR, prefix="n")
    deployment.clock.advance(timedelta(seconds=30))

    report = deployment.collect()

    assert report.failed == []
    ev = _evidently()
    definition = ev.DataDefinition(text_columns=["note"], numerical_columns=["length"])
    snapshot = ev.Report([ev.Preset()]).run(
        ev.Dataset.from_pandas(pd.DataFrame(rows)[["note", "length"]], data_definition=definition),
        ev.Dataset.from_pandas(pd.read_csv(deployment.definitions / "notes.csv"), data_definition=definition),
    )
    metrics = snapshot.dict()["metrics"]
    note = next(m for m in metrics if m["config"].get("column") == "note")
    count = next(m for m in metrics if m["config"]["type"].endswith("DriftedColumnsCount"))
    scores = {score["column"]: score for score in deployment.scores("notes-drift", TEST_START - HOUR)}
    assert scores["note"]["method"] == "text_content_drift"
    assert scores["note"]["score"] == pytest.approx(float(note["value"]), abs=1e-12)
    assert scores["note"]["drifted"] is True
    readings = deployment.readings("notes-drift", TEST_START - HOUR)
    assert readings[None]["value"] == pytest.approx(float(count["value"]["share"]), abs=1e-12)
