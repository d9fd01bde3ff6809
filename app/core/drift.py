"""Fast data drift that reproduces Evidently 0.7's ``DataDriftPreset`` exactly, from stored reference statistics.

Evidently needs the whole reference dataset on every run and recomputes each column several times
(statistic, histograms, correlations, plots). Here the reference is reduced once per model version to a
:class:`ReferenceProfile` (sorted numeric values, population standard deviation, category counts), stored
as bytes, and every drift run only sorts or counts the *current* window.

The rules reproduced, with the Evidently 0.7 source they come from
(``evidently/legacy/...`` unless stated):

* Missing values -- ``calculations/data_drift.py::get_one_column_drift``: ``±inf`` is replaced by NaN and
  NaN/None are dropped, in the reference and the current column separately, before anything else. An empty
  column after that is an error. Every row count below is a count *after* this step.
* Default method -- ``calculations/stattests/registry.py::_get_default_stattest``. ``n_values`` is the
  number of distinct values in reference and current together.

  - reference rows <= 1000: numerical with ``n_values > 5`` -> ``ks``; numerical with ``n_values <= 5``
    and every categorical -> ``chisquare`` if ``n_values > 2`` else ``z``;
  - reference rows > 1000: numerical with ``n_values > 5`` -> ``wasserstein``; numerical with
    ``n_values <= 5`` and every categorical -> ``jensenshannon``.

  (The default may pick ``chisquare``/``z`` for a numerical column although those methods are registered
  for categorical columns only; an explicit override is checked against the registered column kinds.)
* Methods, default thresholds and the drift comparison -- ``calculations/stattests/*.py``:

  ======================  ==========  =================================  ======================
  method                  threshold   score                              drift when
  ======================  ==========  =================================  ======================
  ``ks``                  0.05        ``scipy.stats.ks_2samp`` p-value   ``p <= threshold``
  ``chisquare``           0.05        ``scipy.stats.chisquare`` p-value  ``p < threshold``
  ``z``                   0.05        two-proportion z-test p-value      ``p < threshold``
  ``wasserstein``         0.1         W1 / max(std(reference), 0.001)    ``score >= threshold``
  ``jensenshannon``       0.1         JS distance (natural log)          ``score >= threshold``
  ``psi``                 0.1         population stability index         ``score >= threshold``
  ======================  ==========  =================================  ======================

  ``std`` is the population standard deviation (``np.std``, ``ddof=0``) of the cleaned reference.
* Categories that occur only in the current window (``chisquare``, ``z``, ``jensenshannon``, ``psi``):
  they are keys of the union with a reference count of 0. Chi-square then has an expected frequency of 0,
  an infinite statistic and a p-value of exactly 0 (drift). Expected frequencies are the reference counts
  times ``current rows / reference rows``.
* Binning for ``jensenshannon``/``psi`` -- ``calculations/stattests/utils.py::get_binned_data``: a numerical
  column whose *reference* has more than 20 distinct values is cut into ``np.histogram_bin_edges(...,
  "sturges")`` bins of reference and current together; otherwise (categorical, or few distinct values) every
  distinct value of the union is a bin. Shares are counts / rows. Jensen-Shannon uses the shares as they
  are; PSI replaces a zero share by ``min(non-zero share) / 1e6`` if that minimum is ``<= 1e-4``, else by
  ``1e-4``, separately for reference and current.
* Dataset drift -- ``calculations/data_drift.py::get_dataset_drift`` (behind ``DriftedColumnsCount``):
  ``share = drifted columns / columns`` and the dataset drifts when ``share >= drift_share`` (the preset's
  test is "share < drift_share"). A ``method``/``threshold`` given to the preset applies to every column
  (``options/data_drift.py``, ``utils/data_drift_utils.py::resolve_stattest_threshold``).

Known difference: Evidently's ``DriftedColumnsCount`` path skips the cleaning step for a column without
NaN, so a column holding ``±inf`` but no NaN keeps its infinities there (while ``ValueDrift`` drops them).
This module always drops them, as ``ValueDrift`` does.

Numbers are computed with the same arithmetic as scipy/numpy where it matters (the same CDF values, the same
bin edges), so scores agree with Evidently to ~1e-15; only summation order may differ.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.spatial import distance

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]

SMALL_REFERENCE_MAX_ROWS: Final = 1000
"""Reference columns with at most this many rows use the p-value tests (``_get_default_stattest``)."""
FEW_VALUES_MAX_DISTINCT: Final = 5
"""Numerical columns with at most this many distinct values (reference and current) are tested as discrete."""
BINARY_MAX_DISTINCT: Final = 2
"""Up to this many distinct values the discrete p-value test is the z-test instead of chi-square."""
HISTOGRAM_MIN_REFERENCE_DISTINCT: Final = 21
"""``get_binned_data`` bins a numerical column into a histogram only above 20 distinct reference values."""
WASSERSTEIN_MIN_NORM: Final = 0.001
"""The Wasserstein distance is divided by ``max(std(reference), 0.001)``."""
KS_EXACT_MAX_ROWS: Final = 10000
"""``scipy.stats.ks_2samp(method="auto")`` computes the exact p-value when both samples are this small."""
PROFILE_FORMAT: Final = "mlslo.drift.reference-profile/1"


class ColumnKind(StrEnum):
    """How a column is tested: Evidently's ``ColumnType.Numerical`` or ``ColumnType.Categorical``."""

    NUMERICAL = "numerical"
    CATEGORICAL = "categorical"


class ScoreMeaning(StrEnum):
    """What a drift score is: a p-value (lower means drift) or a distance (higher means drift)."""

    P_VALUE = "p_value"
    DISTANCE = "distance"


class DriftMethod(StrEnum):
    """Evidently's registered stattest names."""

    KS = "ks"
    WASSERSTEIN = "wasserstein"
    CHISQUARE = "chisquare"
    Z = "z"
    JENSENSHANNON = "jensenshannon"
    PSI = "psi"


@dataclass(frozen=True)
class MethodSpec:
    """One Evidently stattest: display name, default threshold and how the score is compared."""

    display_name: str
    default_threshold: float
    meaning: ScoreMeaning
    drift_at_threshold: bool
    """Whether a score equal to the threshold is drift (``<=``/``>=``) or not (``<``)."""
    allowed_kinds: frozenset[ColumnKind]

    def is_drift(self, score: float, threshold: float) -> bool:
        if self.meaning is ScoreMeaning.DISTANCE:
            return score >= threshold
        return score <= threshold if self.drift_at_threshold else score < threshold


_BOTH_KINDS = frozenset({ColumnKind.NUMERICAL, ColumnKind.CATEGORICAL})
METHODS: Final[Mapping[DriftMethod, MethodSpec]] = {
    DriftMethod.KS: MethodSpec(
        "K-S p_value", 0.05, ScoreMeaning.P_VALUE, True, frozenset({ColumnKind.NUMERICAL})
    ),
    DriftMethod.CHISQUARE: MethodSpec(
        "chi-square p_value", 0.05, ScoreMeaning.P_VALUE, False, frozenset({ColumnKind.CATEGORICAL})
    ),
    DriftMethod.Z: MethodSpec(
        "Z-test p_value", 0.05, ScoreMeaning.P_VALUE, False, frozenset({ColumnKind.CATEGORICAL})
    ),
    DriftMethod.WASSERSTEIN: MethodSpec(
        "Wasserstein distance (normed)", 0.1, ScoreMeaning.DISTANCE, True, frozenset({ColumnKind.NUMERICAL})
    ),
    DriftMethod.JENSENSHANNON: MethodSpec(
        "Jensen-Shannon distance", 0.1, ScoreMeaning.DISTANCE, True, _BOTH_KINDS
    ),
    DriftMethod.PSI: MethodSpec("PSI", 0.1, ScoreMeaning.DISTANCE, True, _BOTH_KINDS),
}


# --------------------------------------------------------------------------------------------------------
# Reference profile
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NumericalReference:
    """Reference statistics of a numerical column, enough to reproduce every numerical method."""

    name: str
    sorted_values: FloatArray
    """The non-missing, finite reference values, ascending (float64)."""
    std: float
    """Population standard deviation (``ddof=0``) of the values, computed in their original order."""
    distinct_count: int
    integer_dtype: bool
    """The reference column had an integer dtype (numpy's histogram uses a bin width of at least 1 for
    integer data, which matters when the current column is integer too)."""

    @property
    def kind(self) -> ColumnKind:
        return ColumnKind.NUMERICAL

    @property
    def row_count(self) -> int:
        return int(self.sorted_values.size)


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    """Reference statistics of a categorical column: its distinct values (ascending) and their counts."""

    name: str
    categories: npt.NDArray[Any]
    """Distinct non-missing values, ascending; a unicode, bool, integer or float array (never object)."""
    counts: IndexArray

    @property
    def kind(self) -> ColumnKind:
        return ColumnKind.CATEGORICAL

    @property
    def row_count(self) -> int:
        return int(self.counts.sum())

    @property
    def distinct_count(self) -> int:
        return int(self.categories.size)


ReferenceColumn = NumericalReference | CategoricalReference


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Per-column reference statistics for one model version, built once and stored as bytes."""

    columns: tuple[ReferenceColumn, ...]
    reference_rows: int
    """Rows of the reference dataset (before missing values were dropped per column)."""

    def column(self, name: str) -> ReferenceColumn:
        for reference_column in self.columns:
            if reference_column.name == name:
                return reference_column
        raise KeyError(f"column {name!r} is not in the reference profile")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(reference_column.name for reference_column in self.columns)

    def to_bytes(self) -> bytes:
        """Serialise as a compressed ``.npz`` (numpy arrays plus a JSON header; no pickle)."""
        arrays: dict[str, npt.NDArray[Any]] = {}
        described: list[dict[str, object]] = []
        for index, reference_column in enumerate(self.columns):
            if isinstance(reference_column, NumericalReference):
                arrays[f"{index}.sorted_values"] = reference_column.sorted_values
                described.append(
                    {
                        "name": reference_column.name,
                        "kind": ColumnKind.NUMERICAL.value,
                        "std": reference_column.std,
                        "distinct_count": reference_column.distinct_count,
                        "integer_dtype": reference_column.integer_dtype,
                    }
                )
            else:
                arrays[f"{index}.categories"] = reference_column.categories
                arrays[f"{index}.counts"] = reference_column.counts
                described.append({"name": reference_column.name, "kind": ColumnKind.CATEGORICAL.value})
        header = {"format": PROFILE_FORMAT, "reference_rows": self.reference_rows, "columns": described}
        arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            header = json.loads(stored["header"].tobytes().decode("utf-8"))
            if header.get("format") != PROFILE_FORMAT:
                raise ValueError(
                    f"not a reference profile in format {PROFILE_FORMAT}: {header.get('format')!r}"
                )
            columns: list[ReferenceColumn] = []
            for index, described in enumerate(header["columns"]):
                if described["kind"] == ColumnKind.NUMERICAL.value:
                    columns.append(
                        NumericalReference(
                            name=described["name"],
                            sorted_values=stored[f"{index}.sorted_values"],
                            std=float(described["std"]),
                            distinct_count=int(described["distinct_count"]),
                            integer_dtype=bool(described["integer_dtype"]),
                        )
                    )
                else:
                    columns.append(
                        CategoricalReference(
                            name=described["name"],
                            categories=stored[f"{index}.categories"],
                            counts=stored[f"{index}.counts"].astype(np.int64, copy=False),
                        )
                    )
        return cls(columns=tuple(columns), reference_rows=int(header["reference_rows"]))


def build_reference_profile(
    columns: Mapping[str, npt.ArrayLike], kinds: Mapping[str, ColumnKind]
) -> ReferenceProfile:
    """Reduce a reference dataset to the statistics drift needs, for the columns named in ``kinds``.

    Numerical columns keep their finite values sorted (KS, Wasserstein and the histogram bins are computed
    from them without re-sorting) and their population standard deviation; categorical columns keep their
    distinct values and counts. Missing values (None, NaN, ±inf) are dropped per column, as Evidently does.
    """
    reference_rows = 0
    profile_columns: list[ReferenceColumn] = []
    for name, kind in kinds.items():
        if name not in columns:
            raise KeyError(f"column {name!r} is not in the reference data")
        raw = np.asarray(columns[name])
        reference_rows = max(reference_rows, int(raw.shape[0]))
        profile_columns.append(_build_reference_column(name, ColumnKind(kind), raw))
    return ReferenceProfile(columns=tuple(profile_columns), reference_rows=reference_rows)


def _build_reference_column(name: str, kind: ColumnKind, raw: npt.NDArray[Any]) -> ReferenceColumn:
    if kind is ColumnKind.NUMERICAL:
        values = _clean_numerical(raw, name, "reference")
        sorted_values = np.sort(values)
        return NumericalReference(
            name=name,
            sorted_values=sorted_values,
            std=float(np.std(values)),
            distinct_count=int(_distinct_sorted(sorted_values)[0].size),
            integer_dtype=raw.dtype.kind in "iu",
        )
    categories, counts = np.unique(_clean_categorical(raw, name, "reference"), return_counts=True)
    return CategoricalReference(name=name, categories=categories, counts=counts.astype(np.int64))


# --------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnDrift:
    """The drift test of one column, as Evidently's ``ValueDrift`` reports it."""

    column: str
    kind: ColumnKind
    method: DriftMethod
    method_display_name: str
    """Evidently's name for the method (``ValueDrift``'s resolved ``method`` parameter, e.g. "K-S p_value")."""
    threshold: float
    score: float
    drifted: bool
    score_meaning: ScoreMeaning
    reference_rows: int
    current_rows: int
    """Non-missing rows of the current window that were tested."""


@dataclass(frozen=True)
class DatasetDrift:
    """Per-column results and the dataset decision of ``DriftedColumnsCount``."""

    columns: tuple[ColumnDrift, ...]
    number_of_columns: int
    number_of_drifted_columns: int
    share_of_drifted_columns: float
    drift_share: float
    dataset_drift: bool
    """``share_of_drifted_columns >= drift_share``."""

    def column(self, name: str) -> ColumnDrift:
        for column_drift_result in self.columns:
            if column_drift_result.column == name:
                return column_drift_result
        raise KeyError(f"column {name!r} has no drift result")


# --------------------------------------------------------------------------------------------------------
# Drift computation
# --------------------------------------------------------------------------------------------------------


def dataset_drift(
    profile: ReferenceProfile,
    current_columns: Mapping[str, npt.ArrayLike],
    drift_share: float = 0.5,
    method: DriftMethod | str | None = None,
    threshold: float | None = None,
) -> DatasetDrift:
    """Drift of every profiled column and the dataset decision, like ``DataDriftPreset(drift_share, method,
    threshold)``: ``method``/``threshold`` (if given) apply to every column, otherwise each column gets its
    default method and that method's default threshold."""
    if not profile.columns:
        raise ValueError("the reference profile has no columns")
    results: list[ColumnDrift] = []
    for reference_column in profile.columns:
        if reference_column.name not in current_columns:
            raise KeyError(f"column {reference_column.name!r} is missing from the current data")
        results.append(
            column_drift(
                reference_column, current_columns[reference_column.name], method=method, threshold=threshold
            )
        )
    drifted = sum(1 for result in results if result.drifted)
    share = drifted / len(results)
    return DatasetDrift(
        columns=tuple(results),
        number_of_columns=len(results),
        number_of_drifted_columns=drifted,
        share_of_drifted_columns=share,
        drift_share=drift_share,
        dataset_drift=share >= drift_share,
    )


def column_drift(
    profile_column: ReferenceColumn,
    current_values: npt.ArrayLike,
    method: DriftMethod | str | None = None,
    threshold: float | None = None,
) -> ColumnDrift:
    """Drift of one column of the current window against its reference statistics (Evidently's
    ``ValueDrift``): drop missing values, pick the method (default or override), score, compare."""
    raw = np.asarray(current_values)
    if isinstance(profile_column, NumericalReference):
        sample: _Sample = _NumericalSample(
            profile_column,
            np.sort(_clean_numerical(raw, profile_column.name, "current")),
            raw.dtype.kind in "iu",
        )
    else:
        sample = _CategoricalSample(profile_column, _clean_categorical(raw, profile_column.name, "current"))

    chosen = (
        _default_method(profile_column, sample) if method is None else _checked_method(method, profile_column)
    )
    spec = METHODS[chosen]
    actual_threshold = spec.default_threshold if threshold is None else float(threshold)
    score = _score(chosen, sample)
    return ColumnDrift(
        column=profile_column.name,
        kind=profile_column.kind,
        method=chosen,
        method_display_name=spec.display_name,
        threshold=actual_threshold,
        score=score,
        drifted=bool(spec.is_drift(score, actual_threshold)),
        score_meaning=spec.meaning,
        reference_rows=profile_column.row_count,
        current_rows=sample.row_count,
    )


def _checked_method(method: DriftMethod | str, profile_column: ReferenceColumn) -> DriftMethod:
    """An explicit method must be registered for the column's kind (``get_registered_stattest``)."""
    try:
        chosen = DriftMethod(method)
    except ValueError:
        raise ValueError(
            f"unknown drift method {method!r}; known: {[m.value for m in DriftMethod]}"
        ) from None
    if profile_column.kind not in METHODS[chosen].allowed_kinds:
        raise ValueError(
            f"drift method {chosen.value!r} does not apply to {profile_column.kind.value} column "
            f"{profile_column.name!r}"
        )
    return chosen


def _default_method(profile_column: ReferenceColumn, sample: _Sample) -> DriftMethod:
    """Evidently's ``_get_default_stattest``: by reference rows, kind and distinct values of both windows."""
    small_reference = profile_column.row_count <= SMALL_REFERENCE_MAX_ROWS
    if isinstance(profile_column, NumericalReference) and not sample.has_at_most_distinct(
        FEW_VALUES_MAX_DISTINCT
    ):
        return DriftMethod.KS if small_reference else DriftMethod.WASSERSTEIN
    if not small_reference:
        return DriftMethod.JENSENSHANNON
    if sample.has_at_most_distinct(BINARY_MAX_DISTINCT):
        return DriftMethod.Z
    return DriftMethod.CHISQUARE


def _score(chosen: DriftMethod, sample: _Sample) -> float:
    if chosen in (DriftMethod.KS, DriftMethod.WASSERSTEIN):
        if not isinstance(sample, _NumericalSample):
            raise ValueError(f"drift method {chosen.value!r} needs a numerical column")
        if chosen is DriftMethod.KS:
            return _ks_p_value(sample.reference_sorted, sample.current_sorted)
        norm = max(sample.reference.std, WASSERSTEIN_MIN_NORM)
        return _wasserstein_distance(sample.reference_sorted, sample.current_sorted) / norm
    if chosen is DriftMethod.CHISQUARE:
        return _chisquare_p_value(sample.value_counts())
    if chosen is DriftMethod.Z:
        return _z_test_p_value(sample.value_counts())
    reference_shares, current_shares = sample.binned_shares()
    if chosen is DriftMethod.JENSENSHANNON:
        return float(distance.jensenshannon(reference_shares, current_shares))
    return _psi(reference_shares, current_shares)


# --------------------------------------------------------------------------------------------------------
# Cleaned current windows
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ValueCounts:
    """Counts of every distinct value of reference and current (``keys`` not necessarily ordered)."""

    keys: npt.NDArray[Any]
    reference_counts: IndexArray
    current_counts: IndexArray


class _NumericalSample:
    def __init__(
        self, reference: NumericalReference, current_sorted: FloatArray, integer_dtype: bool
    ) -> None:
        self.reference = reference
        self.reference_sorted = reference.sorted_values
        self.current_sorted = current_sorted
        self.current_integer_dtype = integer_dtype
        self.row_count = int(current_sorted.size)

    def has_at_most_distinct(self, limit: int) -> bool:
        """Whether reference and current has at most ``limit`` distinct values (pandas ``nunique``)."""
        if self.reference.distinct_count > limit:
            return False
        current_distinct = _distinct_sorted(self.current_sorted)[0]
        if current_distinct.size > limit:
            return False
        reference_distinct = _distinct_sorted(self.reference_sorted)[0]
        return int(np.union1d(reference_distinct, current_distinct).size) <= limit

    def value_counts(self) -> _ValueCounts:
        reference_keys, reference_counts = _distinct_sorted(self.reference_sorted)
        current_keys, current_counts = _distinct_sorted(self.current_sorted)
        keys = np.union1d(reference_keys, current_keys)
        return _ValueCounts(
            keys=keys,
            reference_counts=_align_counts(keys, reference_keys, reference_counts),
            current_counts=_align_counts(keys, current_keys, current_counts),
        )

    def binned_shares(self) -> tuple[FloatArray, FloatArray]:
        """``get_binned_data`` for a numerical column: Sturges histogram bins of reference and current
        together when the reference has more than 20 distinct values, otherwise one bin per value."""
        if self.reference.distinct_count < HISTOGRAM_MIN_REFERENCE_DISTINCT:
            return _shares(self.value_counts())
        edges = _sturges_bin_edges(
            self.reference_sorted,
            self.current_sorted,
            integer_data=self.reference.integer_dtype and self.current_integer_dtype,
        )
        reference_counts = _histogram_of_sorted(self.reference_sorted, edges)
        current_counts = _histogram_of_sorted(self.current_sorted, edges)
        return reference_counts / self.reference_sorted.size, current_counts / self.current_sorted.size


class _CategoricalSample:
    def __init__(self, reference: CategoricalReference, current: npt.NDArray[Any]) -> None:
        self.reference = reference
        self.current = current
        self.row_count = int(current.size)
        self._counts: _ValueCounts | None = None

    def value_counts(self) -> _ValueCounts:
        """Count the current values against the reference categories (binary search in the few sorted
        categories, no sort of the window); values unseen in the reference become extra keys."""
        if self._counts is None:
            categories = self.reference.categories
            if (categories.dtype.kind == "U") != (self.current.dtype.kind == "U"):
                raise TypeError(
                    f"column {self.reference.name!r}: current values ({self.current.dtype}) and reference "
                    f"categories ({categories.dtype}) are not of the same type"
                )
            positions = np.minimum(np.searchsorted(categories, self.current), categories.size - 1)
            seen = categories[positions] == self.current
            seen_counts = np.bincount(positions[seen], minlength=categories.size).astype(np.int64)
            unseen_keys, unseen_counts = np.unique(self.current[~seen], return_counts=True)
            self._counts = _ValueCounts(
                keys=np.concatenate((categories, unseen_keys)),
                reference_counts=np.concatenate(
                    (self.reference.counts, np.zeros(unseen_keys.size, np.int64))
                ),
                current_counts=np.concatenate((seen_counts, unseen_counts.astype(np.int64))),
            )
        return self._counts

    def has_at_most_distinct(self, limit: int) -> bool:
        return int(self.value_counts().keys.size) <= limit

    def binned_shares(self) -> tuple[FloatArray, FloatArray]:
        return _shares(self.value_counts())


_Sample = _NumericalSample | _CategoricalSample


def _clean_numerical(raw: npt.NDArray[Any], name: str, which: str) -> FloatArray:
    """Finite values as float64; Evidently drops ±inf and NaN and needs a numeric dtype."""
    if raw.dtype.kind not in "biuf":
        raise TypeError(
            f"{which} column {name!r} must be numeric for a numerical drift test, not {raw.dtype}"
        )
    values = raw.astype(np.float64, copy=False).ravel()
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    if values.size == 0:
        raise ValueError(
            f"an empty column {name!r} was provided for drift calculation in the {which} dataset"
        )
    return values


def _clean_categorical(raw: npt.NDArray[Any], name: str, which: str) -> npt.NDArray[Any]:
    """Non-missing values as a unicode, bool, integer or float array. Object arrays (what pandas gives for
    strings) are converted; None, NaN and ±inf count as missing, like ``replace([±inf], NaN).dropna()``."""
    values = raw.ravel()
    if values.dtype.kind == "O":
        values = _object_to_typed(values, name)
    elif values.dtype.kind == "S":
        values = values.astype(np.str_)
    elif values.dtype.kind == "f":
        values = values[np.isfinite(values)]
    elif values.dtype.kind not in "Ubiu":
        raise TypeError(f"{which} column {name!r} of dtype {values.dtype} cannot be tested as categorical")
    if values.size == 0:
        raise ValueError(
            f"an empty column {name!r} was provided for drift calculation in the {which} dataset"
        )
    return values


def _object_to_typed(values: npt.NDArray[Any], name: str) -> npt.NDArray[Any]:
    kept = [
        value
        for value in values.tolist()
        if value is not None and not (isinstance(value, float | np.floating) and not math.isfinite(value))
    ]
    if all(isinstance(value, str) for value in kept):
        return np.array(kept, dtype=np.str_)
    if all(isinstance(value, bool) for value in kept):
        return np.array(kept, dtype=np.bool_)
    if all(isinstance(value, int | np.integer) and not isinstance(value, bool) for value in kept):
        return np.array(kept, dtype=np.int64)
    if all(
        isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
        for value in kept
    ):
        return np.array(kept, dtype=np.float64)
    raise TypeError(f"categorical column {name!r} mixes value types; use one of str, bool, int, float")


# --------------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------------


def _distinct_sorted(sorted_values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], IndexArray]:
    """Distinct values and their counts of an ascending array, in one linear pass."""
    if sorted_values.size == 0:
        return sorted_values, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    counts = np.diff(np.append(starts, sorted_values.size)).astype(np.int64)
    return sorted_values[starts], counts


def _align_counts(keys: npt.NDArray[Any], present_keys: npt.NDArray[Any], counts: IndexArray) -> IndexArray:
    aligned = np.zeros(keys.size, dtype=np.int64)
    aligned[np.searchsorted(keys, present_keys)] = counts
    return aligned


def _shares(counts: _ValueCounts) -> tuple[FloatArray, FloatArray]:
    """Per-key shares: count / rows of each window (``get_binned_data``'s discrete branch)."""
    reference_rows = int(counts.reference_counts.sum())
    current_rows = int(counts.current_counts.sum())
    return counts.reference_counts / reference_rows, counts.current_counts / current_rows


def _merged_cumulative_counts(
    reference_sorted: FloatArray, current_sorted: FloatArray
) -> tuple[FloatArray, IndexArray, IndexArray]:
    """Both samples merged in ascending order, with the number of reference and current values at or
    before each position. A stable sort of the two concatenated ascending runs is a linear merge (timsort).

    At the last position of a run of equal values the counts equal ``searchsorted(..., side="right")``,
    which is what scipy evaluates the empirical CDFs with."""
    combined = np.concatenate((reference_sorted, current_sorted))
    order = np.argsort(combined, kind="stable")
    merged = combined[order]
    current_cumulative = np.cumsum(order >= reference_sorted.size, dtype=np.int64)
    reference_cumulative = np.arange(1, merged.size + 1, dtype=np.int64) - current_cumulative
    return merged, reference_cumulative, current_cumulative


def _wasserstein_distance(reference_sorted: FloatArray, current_sorted: FloatArray) -> float:
    """W1 between the two empirical distributions, ``∫ |F_ref - F_cur| dx``, as
    ``scipy.stats.wasserstein_distance`` computes it: the CDF difference between consecutive merged values
    times the gap. Inside a run of equal values the gap is 0, so intermediate counts do not matter."""
    merged, reference_cumulative, current_cumulative = _merged_cumulative_counts(
        reference_sorted, current_sorted
    )
    reference_cdf = reference_cumulative[:-1] / reference_sorted.size
    current_cdf = current_cumulative[:-1] / current_sorted.size
    return float(np.sum(np.multiply(np.abs(reference_cdf - current_cdf), np.diff(merged))))


def _ks_statistic(reference_sorted: FloatArray, current_sorted: FloatArray) -> float:
    """Two-sided KS statistic with ``ks_2samp``'s arithmetic: ECDF differences at every distinct value."""
    merged, reference_cumulative, current_cumulative = _merged_cumulative_counts(
        reference_sorted, current_sorted
    )
    run_ends = np.concatenate((merged[1:] != merged[:-1], [True]))
    differences = (
        reference_cumulative[run_ends] / reference_sorted.size
        - current_cumulative[run_ends] / current_sorted.size
    )
    above = float(differences.max())
    below = float(np.clip(-differences.min(), 0, 1))
    return below if below > above else above


def _ks_p_value(reference_sorted: FloatArray, current_sorted: FloatArray) -> float:
    """``scipy.stats.ks_2samp(reference, current)[1]`` (method "auto", two-sided).

    With both samples of at most 10000 values scipy computes the exact p-value; that is cheap, so scipy is
    called directly. Otherwise scipy uses ``kstwo.sf(D, round(n*m/(n+m)))``, reproduced here from the
    statistic of the already sorted samples."""
    reference_rows, current_rows = reference_sorted.size, current_sorted.size
    if max(reference_rows, current_rows) <= KS_EXACT_MAX_ROWS:
        return float(stats.ks_2samp(reference_sorted, current_sorted).pvalue)
    statistic = _ks_statistic(reference_sorted, current_sorted)
    larger, smaller = sorted((float(reference_rows), float(current_rows)), reverse=True)
    effective_rows = larger * smaller / (larger + smaller)
    return float(np.clip(stats.kstwo.sf(statistic, np.round(effective_rows)), 0, 1))


def _chisquare_p_value(counts: _ValueCounts) -> float:
    """Chi-square goodness of fit of the current counts against the reference counts scaled to the current
    rows. A value unseen in the reference has expected count 0: infinite statistic, p-value 0."""
    reference_rows = int(counts.reference_counts.sum())
    current_rows = int(counts.current_counts.sum())
    expected = counts.reference_counts * (current_rows / reference_rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(counts.current_counts, expected).pvalue)


def _z_test_p_value(counts: _ValueCounts) -> float:
    """Evidently's two-proportion z-test: the smallest value of the union is "0", everything else "1";
    p = 2 (1 - Φ(|z|)) with the pooled proportion. Both windows holding one and the same value gives 1."""
    reference_present = counts.keys[counts.reference_counts > 0]
    current_present = counts.keys[counts.current_counts > 0]
    if (
        reference_present.size == 1
        and current_present.size == 1
        and reference_present[0] == current_present[0]
    ):
        return 1.0
    first_key_index = int(np.argsort(counts.keys, kind="stable")[0])
    reference_rows = int(counts.reference_counts.sum())
    current_rows = int(counts.current_counts.sum())
    reference_ones = reference_rows - int(counts.reference_counts[first_key_index])
    current_ones = current_rows - int(counts.current_counts[first_key_index])
    reference_share = float(reference_ones) / reference_rows
    current_share = float(current_ones) / current_rows
    pooled = float(reference_share * reference_rows + current_share * current_rows) / (
        reference_rows + current_rows
    )
    z = (reference_share - current_share) / np.sqrt(
        pooled * (1 - pooled) * (1.0 / reference_rows + 1.0 / current_rows)
    )
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def _psi(reference_shares: FloatArray, current_shares: FloatArray) -> float:
    """Population stability index after ``get_binned_data``'s zero filling (``feel_zeroes=True``)."""
    reference_filled = _fill_zero_shares(reference_shares)
    current_filled = _fill_zero_shares(current_shares)
    return float(np.sum((reference_filled - current_filled) * np.log(reference_filled / current_filled)))


def _fill_zero_shares(shares: FloatArray) -> FloatArray:
    smallest = float(shares[shares != 0].min())
    filler = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(shares == 0, filler, shares)


def _sturges_bin_edges(
    reference_sorted: FloatArray, current_sorted: FloatArray, integer_data: bool
) -> FloatArray:
    """``np.histogram_bin_edges(concat(reference, current), bins="sturges")`` from the sorted samples:
    width = range / (log2(n) + 1) (at least 1 for integer data), ceil(range / width) equal bins over
    [min, max] (widened by 0.5 on each side when min == max)."""
    low = min(float(reference_sorted[0]), float(current_sorted[0]))
    high = max(float(reference_sorted[-1]), float(current_sorted[-1]))
    combined_rows = reference_sorted.size + current_sorted.size
    width = (high - low) / (np.log2(combined_rows) + 1.0)
    first_edge, last_edge = (low - 0.5, high + 0.5) if low == high else (low, high)
    if width:
        if integer_data and width < 1:
            width = 1
        bin_count = int(np.ceil((last_edge - first_edge) / width))
    else:
        bin_count = 1
    return np.linspace(first_edge, last_edge, bin_count + 1, endpoint=True)


def _histogram_of_sorted(sorted_values: FloatArray, edges: FloatArray) -> IndexArray:
    """``np.histogram(values, edges)[0]`` for ascending values: bins are [e_i, e_i+1), the last one closed."""
    starts = np.searchsorted(sorted_values, edges[:-1], side="left")
    ends = np.append(starts[1:], np.searchsorted(sorted_values, edges[-1], side="right"))
    return (ends - starts).astype(np.int64)


# --------------------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------------------


def sample_rows(n_rows: int, sample_size: int, seed: int) -> IndexArray:
    """Ascending row indices of a uniform sample without replacement, the same for the same arguments.

    Uses ``np.random.default_rng(seed)`` (PCG64), so a sample is reproducible for a given NumPy version;
    store the seed next to a result computed from a sample. Asking for at least ``n_rows`` rows returns
    every row."""
    if n_rows < 0 or sample_size < 0:
        raise ValueError("n_rows and sample_size must not be negative")
    if sample_size >= n_rows:
        return np.arange(n_rows, dtype=np.int64)
    generator = np.random.default_rng(seed)
    chosen = generator.choice(n_rows, size=sample_size, replace=False, shuffle=False)
    return np.sort(chosen).astype(np.int64, copy=False)


def column_names_by_kind(profile: ReferenceProfile) -> Mapping[ColumnKind, Sequence[str]]:
    """Profiled column names grouped by kind, in profile order (handy to build Evidently's DataDefinition)."""
    grouped: dict[ColumnKind, list[str]] = {ColumnKind.NUMERICAL: [], ColumnKind.CATEGORICAL: []}
    for reference_column in profile.columns:
        grouped[reference_column.kind].append(reference_column.name)
    return grouped
