"""app.core.drift against Evidently 0.7's DataDriftPreset on real scikit-learn datasets with real shifts.

Every comparison runs Evidently on the same pandas frames and asserts, per column, the same method, the
same threshold, a score within 1e-9 and the same drift decision, and the same drifted-column count, share
and dataset decision.

Reference sizes: wine (178 rows), diabetes (442) and breast cancer (569) halves are <= 1000 rows (KS,
chi-square, z-test). For > 1000 rows, load_digits (1797 rows; 1200 reference rows) and breast cancer
resampled with replacement to 3000/2000 rows with a Gaussian jitter of 1 % of each feature's standard
deviation (seeded) give Wasserstein and Jensen-Shannon.

Warnings: importing Evidently 0.7.23 raises a numpy ``DeprecationWarning`` ("numpy.core is deprecated",
evidently/legacy/tests/utils.py) and litestar's ``LitestarDeprecationWarning`` (a ``DeprecationWarning``,
evidently/legacy/ui/managers/projects.py); they are ignored around that import only. Evidently's chi-square
divides by a zero expected count when the current window has a category the reference lacks and numpy
warns "divide by zero encountered in divide"; Evidently's per-column mean/std/correlations of a column with
±inf or of a constant column make numpy warn "invalid value encountered ..."; only the tests with such data
ignore those RuntimeWarnings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine

from app.core import drift
from app.core.drift import ColumnKind, DatasetDrift, DriftMethod
from tests.evidently_oracle import evidently

SCORE_TOLERANCE = 1e-9


# --------------------------------------------------------------------------------------------------------
# Evidently oracle
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidentlyColumn:
    method: str
    threshold: float
    score: float
    drifted: bool


@dataclass(frozen=True)
class EvidentlyResult:
    columns: dict[str, EvidentlyColumn]
    drifted_count: int
    drifted_share: float
    dataset_drift: bool


def run_evidently(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, ColumnKind], **preset_options: Any
) -> EvidentlyResult:
    ev = evidently()
    definition = ev.DataDefinition(
        numerical_columns=[name for name, kind in kinds.items() if kind is ColumnKind.NUMERICAL],
        categorical_columns=[name for name, kind in kinds.items() if kind is ColumnKind.CATEGORICAL],
    )
    snapshot = ev.Report([ev.Preset(**preset_options)], include_tests=True).run(
        ev.Dataset.from_pandas(current, data_definition=definition),
        ev.Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    count_metric = next(m for m in result["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount"))
    status_by_column = {
        test["metric_config"]["params"]["column"]: test["status"]
        for test in result["tests"]
        if test["metric_config"]["params"]["type"].endswith("ValueDrift")
    }
    share_test = next(t for t in result["tests"] if t["metric_config"]["metric_id"] == count_metric["id"])
    columns = {
        metric["config"]["column"]: EvidentlyColumn(
            method=metric["config"]["method"],
            threshold=float(metric["config"]["threshold"]),
            score=float(metric["value"]),
            drifted=status_by_column[metric["config"]["column"]] == "FAIL",
        )
        for metric in result["metrics"]
        if metric["config"]["type"].endswith("ValueDrift")
    }
    return EvidentlyResult(
        columns=columns,
        drifted_count=int(count_metric["value"]["count"]),
        drifted_share=float(count_metric["value"]["share"]),
        dataset_drift=share_test["status"] == "FAIL",
    )


def run_ours(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, ColumnKind], **options: Any
) -> DatasetDrift:
    profile = drift.build_reference_profile({name: reference[name].to_numpy() for name in kinds}, kinds)
    return drift.dataset_drift(profile, {name: current[name].to_numpy() for name in kinds}, **options)


def assert_same_as_evidently(ours: DatasetDrift, theirs: EvidentlyResult, method_given: bool) -> None:
    """Evidently's ValueDrift reports the method as given, or the stattest's display name when resolved."""
    assert [c.column for c in ours.columns] == list(theirs.columns)
    for column in ours.columns:
        expected = theirs.columns[column.column]
        reported_method = column.method.value if method_given else column.method_display_name
        assert reported_method == expected.method, column.column
        assert column.threshold == expected.threshold, column.column
        assert math.isclose(column.score, expected.score, rel_tol=0, abs_tol=SCORE_TOLERANCE), (
            column.column,
            column.score,
            expected.score,
        )
        assert column.drifted == expected.drifted, column.column
    assert ours.number_of_drifted_columns == theirs.drifted_count
    assert ours.share_of_drifted_columns == pytest.approx(theirs.drifted_share, abs=1e-12)
    assert ours.dataset_drift == theirs.dataset_drift


def compare(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, ColumnKind], **options: Any
) -> DatasetDrift:
    ours = run_ours(reference, current, kinds, **options)
    theirs = run_evidently(reference, current, kinds, **options)
    assert_same_as_evidently(ours, theirs, method_given=options.get("method") is not None)
    return ours


def methods_used(result: DatasetDrift) -> set[DriftMethod]:
    return {column.method for column in result.columns}


# --------------------------------------------------------------------------------------------------------
# Real data and real shifts
# --------------------------------------------------------------------------------------------------------


def sklearn_frame(loader: Any) -> pd.DataFrame:
    bunch = loader(as_frame=True)
    frame: pd.DataFrame = bunch.frame.copy()
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    return frame


def band(values: pd.Series, reference_values: pd.Series, labels: list[str]) -> pd.Series:
    """Bin a feature into labelled bands at the reference's quantiles (string categories)."""
    edges = np.quantile(reference_values, np.linspace(0, 1, len(labels) + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    codes = np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, len(labels) - 1)
    return pd.Series(np.array(labels, dtype=object)[codes], index=values.index, dtype=object)


def split_rows(frame: pd.DataFrame, reference_rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    return (
        frame.iloc[order[:reference_rows]].reset_index(drop=True),
        frame.iloc[order[reference_rows:]].reset_index(drop=True),
    )


def resample_with_jitter(frame: pd.DataFrame, rows: int, numeric: list[str], seed: int) -> pd.DataFrame:
    """Bootstrap rows of a real dataset and jitter its numerical features by 1 % of their std."""
    rng = np.random.default_rng(seed)
    out = frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)
    for name in numeric:
        out[name] = out[name].to_numpy() + rng.normal(0.0, 0.01 * frame[name].std(), rows)
    return out


def numerical_kinds(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> dict[str, ColumnKind]:
    return {name: ColumnKind.NUMERICAL for name in frame.columns if name not in exclude}


# --------------------------------------------------------------------------------------------------------
# Reference <= 1000 rows: KS, chi-square, z-test
# --------------------------------------------------------------------------------------------------------


def test_wine_subpopulation_small_reference() -> None:
    """Wine (178 rows): reference = half the rows, current = the other half's rows with alcohol above the
    median. The numerical target (3 values) gets chi-square, a binary category the z-test."""
    wine = sklearn_frame(load_wine)
    reference, current = split_rows(wine, 89, seed=1)
    current = current[current["alcohol"] > wine["alcohol"].median()].reset_index(drop=True)
    for frame in (reference, current):
        frame["colour_band"] = band(
            frame["color_intensity"], reference["color_intensity"], ["pale", "mid", "deep"]
        )
        frame["hue_high"] = np.where(frame["hue"] > wine["hue"].median(), "yes", "no").astype(object)
    kinds = numerical_kinds(wine) | {
        "colour_band": ColumnKind.CATEGORICAL,
        "hue_high": ColumnKind.CATEGORICAL,
    }

    result = compare(reference, current, kinds)

    assert methods_used(result) == {DriftMethod.KS, DriftMethod.CHISQUARE, DriftMethod.Z}
    assert result.column("target").method is DriftMethod.CHISQUARE
    assert 0 < result.number_of_drifted_columns < result.number_of_columns
    assert result.column("alcohol").drifted


def test_diabetes_subpopulation_binary_numerical_uses_z_test() -> None:
    """Diabetes (442 rows): current = rows with bmi above the median; ``sex`` is numerical with two values,
    so Evidently's default picks the z-test for it."""
    diabetes = sklearn_frame(load_diabetes)
    reference, current = split_rows(diabetes, 221, seed=2)
    current = current[current["bmi"] > diabetes["bmi"].median()].reset_index(drop=True)

    result = compare(reference, current, numerical_kinds(diabetes))

    assert result.column("sex").method is DriftMethod.Z
    assert result.column("bmi").drifted
    assert not result.column("sex").drifted
    assert result.column("age").method is DriftMethod.KS


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_breast_cancer_scaled_feature_and_missing_values() -> None:
    """Breast cancer halves (284/285 rows): ``mean_radius`` x 1.5 in the current window; NaN and ±inf in
    some rows of both windows (dropped per column, so row counts differ by column)."""
    cancer = sklearn_frame(load_breast_cancer)
    reference, current = split_rows(cancer, 284, seed=3)
    current["mean_radius"] = current["mean_radius"] * 1.5
    for frame, offset in ((reference, 0), (current, 5)):
        frame.loc[offset : offset + 6, "mean_texture"] = np.nan
        frame.loc[offset + 10 : offset + 12, "worst_area"] = np.inf
        frame.loc[offset + 20, "worst_area"] = np.nan
        frame.loc[offset + 30, "worst_area"] = -np.inf
    kinds = numerical_kinds(cancer)

    result = compare(reference, current, kinds)

    assert result.column("mean_radius").drifted
    assert result.column("mean_texture").reference_rows == 284 - 7
    assert result.column("worst_area").current_rows == 285 - 5
    assert result.number_of_drifted_columns < result.number_of_columns


@pytest.mark.filterwarnings("ignore:divide by zero encountered in divide:RuntimeWarning")
def test_breast_cancer_remapped_categories_with_unseen_category() -> None:
    """Texture bands remapped in the current window (low -> mid, very_high -> high) plus a band the reference never had:
    chi-square gets an expected count of 0 for it, so its p-value is exactly 0."""
    cancer = sklearn_frame(load_breast_cancer)
    reference, current = split_rows(cancer, 284, seed=4)
    labels = ["low", "mid", "high", "very_high"]
    for frame in (reference, current):
        frame["texture_band"] = band(frame["mean_texture"], reference["mean_texture"], labels)
        frame["area_band"] = band(frame["mean_area"], reference["mean_area"], labels)
    current["texture_band"] = current["texture_band"].replace({"low": "mid", "very_high": "high"})
    current.loc[current["mean_concavity"] > cancer["mean_concavity"].quantile(0.9), "area_band"] = "extreme"
    kinds = {"mean_radius": ColumnKind.NUMERICAL, "texture_band": ColumnKind.CATEGORICAL} | {
        "area_band": ColumnKind.CATEGORICAL,
        "target": ColumnKind.CATEGORICAL,
    }

    result = compare(reference, current, kinds)

    assert result.column("area_band").score == 0.0
    assert result.column("area_band").drifted
    assert result.column("texture_band").drifted
    assert result.column("target").method is DriftMethod.Z
    assert not result.column("mean_radius").drifted


# --------------------------------------------------------------------------------------------------------
# Reference > 1000 rows: Wasserstein, Jensen-Shannon
# --------------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_digits_subpopulation_large_reference() -> None:
    """Digits (1797 rows, 64 pixel columns with 1-17 values): reference = 1200 rows, current = the other
    rows whose pixel (3, 4) is above its median. Pixel columns with <= 5 values (including constant ones,
    whose std 0 would matter to Wasserstein) get Jensen-Shannon, the others Wasserstein; the digit label is
    an integer categorical column. Evidently's correlation table (np.corrcoef) divides by the zero std of
    the constant pixel columns and numpy warns "invalid value encountered in divide"; that is ignored."""
    digits = sklearn_frame(load_digits)
    reference, current = split_rows(digits, 1200, seed=5)
    current = current[current["pixel_3_4"] > digits["pixel_3_4"].median()].reset_index(drop=True)
    kinds = numerical_kinds(digits, exclude=("target",)) | {"target": ColumnKind.CATEGORICAL}

    result = compare(reference, current, kinds)

    assert methods_used(result) == {DriftMethod.WASSERSTEIN, DriftMethod.JENSENSHANNON}
    assert result.column("target").method is DriftMethod.JENSENSHANNON
    assert result.column("pixel_0_0").method is DriftMethod.JENSENSHANNON
    assert 0 < result.number_of_drifted_columns < result.number_of_columns


@pytest.mark.parametrize("shift", ["subpopulation", "scaled", "remapped"])
def test_breast_cancer_resampled_large_reference(shift: str) -> None:
    """Breast cancer halves bootstrapped to 3000 (reference) and 2000 (current) rows with a 1 % jitter."""
    cancer = sklearn_frame(load_breast_cancer)
    features = [c for c in cancer.columns if c != "target"]
    reference_half, current_half = split_rows(cancer, 284, seed=6)
    if shift == "subpopulation":
        current_half = current_half[current_half["worst_radius"] > cancer["worst_radius"].median()]
    reference = resample_with_jitter(reference_half, 3000, features, seed=7)
    current = resample_with_jitter(current_half, 2000, features, seed=8)
    if shift == "scaled":
        current["mean_area"] = current["mean_area"] * 1.5
    labels = ["low", "mid", "high"]
    for frame in (reference, current):
        frame["smoothness_band"] = band(frame["mean_smoothness"], reference["mean_smoothness"], labels)
        frame["diagnosis"] = np.where(frame["target"] == 1, "benign", "malignant").astype(object)
    if shift == "remapped":
        current["smoothness_band"] = current["smoothness_band"].map(
            {"low": "mid", "mid": "high", "high": "high"}
        )
    kinds = dict.fromkeys(features, ColumnKind.NUMERICAL) | {
        "smoothness_band": ColumnKind.CATEGORICAL,
        "diagnosis": ColumnKind.CATEGORICAL,
    }

    result = compare(reference, current, kinds)

    assert methods_used(result) == {DriftMethod.WASSERSTEIN, DriftMethod.JENSENSHANNON}
    drifted = {c.column for c in result.columns if c.drifted}
    if shift == "scaled":
        assert "mean_area" in drifted
    if shift == "remapped":
        assert "smoothness_band" in drifted
    if shift == "subpopulation":
        assert {"worst_radius", "diagnosis"} <= drifted


# --------------------------------------------------------------------------------------------------------
# Method and threshold overrides, dataset share
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "threshold"),
    [("ks", None), ("wasserstein", None), ("psi", None), ("jensenshannon", None), ("wasserstein", 0.3)],
)
def test_numerical_method_override(method: str, threshold: float | None) -> None:
    """Wine features with the current window's alcohol-rich subpopulation; PSI and Jensen-Shannon bin
    columns with > 20 distinct reference values into Sturges histograms, the others per value."""
    wine = sklearn_frame(load_wine)
    reference, current = split_rows(wine, 100, seed=9)
    current = current[current["alcohol"] > wine["alcohol"].quantile(0.4)].reset_index(drop=True)

    result = compare(reference, current, numerical_kinds(wine), method=method, threshold=threshold)

    assert methods_used(result) == {DriftMethod(method)}
    assert result.column("alcohol").drifted
    assert {c.threshold for c in result.columns} == {
        threshold or drift.METHODS[DriftMethod(method)].default_threshold
    }


@pytest.mark.parametrize("method", ["chisquare", "z", "psi", "jensenshannon"])
def test_categorical_method_override(method: str) -> None:
    """Diabetes bands (binary for the z-test) with the current window restricted to older patients."""
    diabetes = sklearn_frame(load_diabetes)
    reference, current = split_rows(diabetes, 221, seed=10)
    current = current[current["age"] > diabetes["age"].quantile(0.3)].reset_index(drop=True)
    labels = ["below", "above"] if method == "z" else ["q1", "q2", "q3", "q4"]
    kinds = {}
    for name in ("age", "bmi", "bp", "s5", "s1"):
        for frame in (reference, current):
            frame[f"{name}_band"] = band(frame[name], reference[name], labels)
        kinds[f"{name}_band"] = ColumnKind.CATEGORICAL

    result = compare(reference, current, kinds, method=method)

    assert methods_used(result) == {DriftMethod(method)}
    assert result.column("age_band").drifted


def test_ks_asymptotic_p_value_with_large_windows() -> None:
    """Above 10000 rows scipy's KS p-value is asymptotic; ours comes from the stored sorted reference."""
    cancer = sklearn_frame(load_breast_cancer)
    columns = ["mean_radius", "mean_texture", "mean_smoothness", "worst_concavity"]
    reference = resample_with_jitter(cancer, 12000, columns, seed=11)
    current = resample_with_jitter(
        cancer[cancer["mean_texture"] > cancer["mean_texture"].quantile(0.2)], 11000, columns, seed=12
    )
    kinds = dict.fromkeys(columns, ColumnKind.NUMERICAL)

    result = compare(reference, current, kinds, method="ks")

    assert result.column("mean_texture").drifted
    assert all(c.reference_rows == 12000 for c in result.columns)


@pytest.mark.parametrize("share_offset", [0.0, 1e-9])
def test_dataset_drift_share_is_compared_with_at_least(share_offset: float) -> None:
    """Evidently declares dataset drift when share of drifted columns >= drift_share."""
    diabetes = sklearn_frame(load_diabetes)
    reference, current = split_rows(diabetes, 221, seed=2)
    current = current[current["bmi"] > diabetes["bmi"].median()].reset_index(drop=True)
    kinds = numerical_kinds(diabetes)
    share = run_ours(reference, current, kinds).share_of_drifted_columns
    assert 0 < share < 1

    result = compare(reference, current, kinds, drift_share=share + share_offset)

    assert result.dataset_drift is (share_offset == 0.0)


def test_override_for_the_wrong_column_kind_is_rejected() -> None:
    profile = drift.build_reference_profile(
        {"x": np.arange(10.0), "c": np.array(["a", "b"] * 5)},
        {"x": ColumnKind.NUMERICAL, "c": ColumnKind.CATEGORICAL},
    )
    with pytest.raises(ValueError, match="does not apply"):
        drift.column_drift(profile.column("x"), np.arange(10.0), method="chisquare")
    with pytest.raises(ValueError, match="does not apply"):
        drift.column_drift(profile.column("c"), np.array(["a"]), method="ks")
    with pytest.raises(ValueError, match="unknown drift method"):
        drift.column_drift(profile.column("x"), np.arange(10.0), method="anderson")
    with pytest.raises(ValueError, match="empty column"):
        drift.column_drift(profile.column("x"), np.array([np.nan, np.inf]))


# --------------------------------------------------------------------------------------------------------
# Building blocks against numpy/scipy directly
# --------------------------------------------------------------------------------------------------------


def test_wasserstein_ks_and_histogram_building_blocks_match_scipy_and_numpy() -> None:
    cancer = sklearn_frame(load_breast_cancer)
    reference = np.sort(resample_with_jitter(cancer, 20000, ["mean_area"], seed=13)["mean_area"].to_numpy())
    current = np.sort(cancer["mean_area"].to_numpy() * 1.1)  # real values, with ties
    assert drift._wasserstein_distance(reference, current) == pytest.approx(
        stats.wasserstein_distance(reference, current), rel=1e-13
    )
    assert drift._ks_statistic(reference, current) == stats.ks_2samp(reference, current).statistic
    assert drift._ks_p_value(reference, current) == stats.ks_2samp(reference, current).pvalue
    for float_data in (True, False):
        ref = reference if float_data else np.round(reference).astype(np.int64)
        cur = current if float_data else np.round(current).astype(np.int64)
        edges = drift._sturges_bin_edges(ref.astype(float), cur.astype(float), integer_data=not float_data)
        expected_edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        np.testing.assert_array_equal(edges, expected_edges)
        np.testing.assert_array_equal(
            drift._histogram_of_sorted(ref.astype(float), edges), np.histogram(ref, edges)[0]
        )


# --------------------------------------------------------------------------------------------------------
# Storage and sampling
# --------------------------------------------------------------------------------------------------------


def test_profile_round_trips_through_bytes() -> None:
    cancer = sklearn_frame(load_breast_cancer)
    reference, current = split_rows(cancer, 284, seed=14)
    for frame in (reference, current):
        frame["texture_band"] = band(frame["mean_texture"], reference["mean_texture"], ["low", "mid", "high"])
    kinds = numerical_kinds(cancer, exclude=("target",)) | {
        "texture_band": ColumnKind.CATEGORICAL,
        "target": ColumnKind.CATEGORICAL,
    }
    profile = drift.build_reference_profile({n: reference[n].to_numpy() for n in kinds}, kinds)

    restored = drift.ReferenceProfile.from_bytes(profile.to_bytes())

    assert restored.column_names == profile.column_names
    assert restored.reference_rows == profile.reference_rows == 284
    for original, loaded in zip(profile.columns, restored.columns, strict=True):
        assert type(original) is type(loaded)
        if isinstance(original, drift.NumericalReference):
            assert isinstance(loaded, drift.NumericalReference)
            np.testing.assert_array_equal(loaded.sorted_values, original.sorted_values)
            assert (loaded.std, loaded.distinct_count, loaded.integer_dtype) == (
                original.std,
                original.distinct_count,
                original.integer_dtype,
            )
        else:
            assert isinstance(loaded, drift.CategoricalReference)
            np.testing.assert_array_equal(loaded.categories, original.categories)
            np.testing.assert_array_equal(loaded.counts, original.counts)
    current_columns = {n: current[n].to_numpy() for n in kinds}
    assert drift.dataset_drift(restored, current_columns) == drift.dataset_drift(profile, current_columns)
    with pytest.raises(ValueError, match="not a reference profile"):
        drift.ReferenceProfile.from_bytes(_npz_with_header(b'{"format": "other"}'))


def _npz_with_header(header: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(header, dtype=np.uint8))
    return buffer.getvalue()


def test_sample_rows_is_deterministic_for_a_seed() -> None:
    first = drift.sample_rows(1_000_000, 5000, seed=42)
    again = drift.sample_rows(1_000_000, 5000, seed=42)
    other = drift.sample_rows(1_000_000, 5000, seed=43)

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.dtype == np.int64
    assert first.size == np.unique(first).size == 5000
    assert np.all(np.diff(first) > 0)
    assert first[0] >= 0
    assert first[-1] < 1_000_000
    np.testing.assert_array_equal(drift.sample_rows(10, 50, seed=1), np.arange(10))
    with pytest.raises(ValueError, match="negative"):
        drift.sample_rows(-1, 5, seed=1)
