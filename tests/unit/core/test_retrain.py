"""Retrain stability maths: churn, negative flips and metric spread equal their definitions (checked
against numpy on random labels and on real retrains), labels compare in canonical form, and bad
inputs are refused; then which reading a registered version gives a retrain-stability SLO."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB

from app.core.retrain import MetricSpread, metric_spread, negative_flip_rate, prediction_churn
from app.ml.model_versions import _NO_READING, stability_value
from app.ml.models import ModelVersion
from app.slos.models import Slo

labels = st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=60)


@given(st.data())
def test_churn_and_negative_flips_equal_numpy(data: st.DataObject) -> None:
    truth = data.draw(labels)
    size = st.lists(st.integers(0, 2), min_size=len(truth), max_size=len(truth))
    previous, current = data.draw(size), data.draw(size)
    a, b, y = np.asarray(previous), np.asarray(current), np.asarray(truth)

    assert prediction_churn(previous, current) == pytest.approx(float(np.mean(a != b)), abs=1e-15)
    assert negative_flip_rate(previous, current, truth) == pytest.approx(
        float(np.mean((a == y) & (b != y))), abs=1e-15
    )
    # A negative flip is a changed prediction: flips never exceed churn.
    assert negative_flip_rate(previous, current, truth) <= prediction_churn(previous, current)


def test_on_two_real_models() -> None:
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
    )
    old = GaussianNB().fit(x_train, y_train).predict(x_test).tolist()
    new = LogisticRegression(max_iter=5000).fit(x_train, y_train).predict(x_test).tolist()
    truth = y_test.tolist()
    changed = [i for i in range(len(truth)) if old[i] != new[i]]
    broken = [i for i in changed if old[i] == truth[i]]

    assert changed, "the two models disagree somewhere"
    assert prediction_churn(old, new) == len(changed) / len(truth)
    assert negative_flip_rate(old, new, truth) == len(broken) / len(truth)
    # Flips are directional: A→B negative flips are B→A positive flips.
    fixed = [i for i in changed if new[i] == truth[i]]
    assert negative_flip_rate(new, old, truth) == len(fixed) / len(truth)


def test_labels_compare_in_canonical_form() -> None:
    assert prediction_churn([1, 0, 2], [1.0, 0.0, 2.0]) == 0.0
    assert prediction_churn(["cat", "dog"], ["cat", "cat"]) == 0.5
    assert prediction_churn([True, False], [True, True]) == 0.5
    assert negative_flip_rate(["a", "b", "a", "b"], ["a", "a", "b", "b"], ["a", "b", "b", "a"]) == 0.25


@pytest.mark.parametrize(
    ("previous", "current", "truth"),
    [([], [], []), ([1, 0], [1], [1, 0]), ([1, 0], [1, 0], [1])],
    ids=["empty", "predictions-differ-in-length", "labels-differ-in-length"],
)
def test_sets_of_different_sizes_are_refused(
    previous: list[int], current: list[int], truth: list[int]
) -> None:
    with pytest.raises(ValueError, match="same"):
        negative_flip_rate(previous, current, truth)
    if len(previous) != len(current) or not current:
        with pytest.raises(ValueError, match="same"):
            prediction_churn(previous, current)


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=2, max_size=20))
def test_metric_spread_is_the_population_std_and_the_range(values: list[float]) -> None:
    spread = metric_spread(values)

    assert spread is not None
    assert spread.versions == len(values)
    assert spread.std == pytest.approx(float(np.std(values, ddof=0)), abs=1e-12)
    assert spread.range == max(values) - min(values)


def test_metric_spread_needs_two_versions() -> None:
    assert metric_spread([]) is None
    assert metric_spread([0.93]) is None
    assert metric_spread([0.9, 0.9]) == MetricSpread(versions=2, std=0.0, range=0.0)
    spread = metric_spread([0.9, 0.94, 0.95])
    assert spread is not None
    assert spread.versions == 3
    assert spread.std == pytest.approx(0.0216024689947)
    assert spread.range == pytest.approx(0.05)


# --- The reading a registered version gives ------------------------------------------------------

T = datetime(2026, 1, 5, tzinfo=UTC)


def _slo(metric: str, **sli: Any) -> Slo:
    return Slo(
        sli_kind="retrain_stability",
        source="push",
        metric=metric,
        definition={"sli": {"kind": "retrain_stability", "source": "push", "metric": metric, **sli}},
    )


def _version(
    name: str,
    predictions: list[int] | None = None,
    *,
    accuracy: float | None = None,
    evaluation_set: str | None = "holdout",
    outcome: str = "succeeded",
    labels: list[int] | None = None,
) -> ModelVersion:
    return ModelVersion(
        version=name,
        trained_at=T,
        registered_at=T,
        outcome=outcome,
        metrics={} if accuracy is None else {"accuracy": accuracy},
        evaluation_set=evaluation_set,
        evaluation_predictions=predictions,
        evaluation_labels=labels,
    )


TRUTH = [1, 0, 1, 1]


def test_churn_compares_with_the_latest_successful_version_on_the_same_set() -> None:
    churn = _slo("prediction_churn")
    new = _version("v4", [1, 1, 1, 1], labels=TRUTH)
    earlier = [  # latest first, as the repository lists them
        _version("v3", outcome="failed"),
        _version("v2b", [0, 0, 0, 0], evaluation_set="other"),
        _version("v2a", None),
        _version("v2", [1, 0, 1, 0], labels=TRUTH),
        _version("v1", [0, 0, 0, 0], labels=TRUTH),
    ]

    assert stability_value(churn, new, earlier) == 0.5
    assert stability_value(_slo("negative_flip_rate"), new, earlier) == 0.25
    assert stability_value(churn, new, []) is _NO_READING
    assert stability_value(churn, _version("v5", None), earlier) is _NO_READING
    assert stability_value(churn, _version("v5", [1, 1]), earlier) is _NO_READING  # another size
    # An empty list of predictions is no predictions, on either side.
    assert stability_value(churn, _version("v5", []), earlier) is _NO_READING
    assert stability_value(churn, new, [_version("v3", []), *earlier]) == 0.5
    assert stability_value(churn, new, [_version("v3", [])]) is _NO_READING
    assert stability_value(churn, _version("v5", outcome="failed"), earlier) is None


def test_negative_flips_need_labels() -> None:
    earlier = [_version("v1", [1, 0, 1, 0])]
    flips = _slo("negative_flip_rate")

    assert stability_value(flips, _version("v2", [1, 1, 1, 1]), earlier) is _NO_READING
    # The previous version's labels of the same set serve as well.
    earlier_labelled = [_version("v1", [1, 0, 1, 0], labels=TRUTH)]
    assert stability_value(flips, _version("v2", [0, 0, 0, 0]), earlier_labelled) == 0.5


def test_spread_over_the_last_versions_that_report_the_metric_on_the_same_set() -> None:
    spread = _slo("metric_spread", last_versions=3)
    earlier = [
        _version("v5", accuracy=0.80, evaluation_set="other"),
        _version("v4", outcome="failed"),
        _version("v3"),  # no accuracy
        _version("v2", accuracy=0.94),
        _version("v1", accuracy=0.96),
        _version("v0", accuracy=0.50),  # beyond the last three
    ]

    assert stability_value(spread, _version("v6", accuracy=0.92), earlier) == pytest.approx(
        float(np.std([0.92, 0.94, 0.96]))
    )
    # The default is the last five versions.
    assert stability_value(_slo("metric_spread"), _version("v6", accuracy=0.92), earlier) == pytest.approx(
        float(np.std([0.92, 0.94, 0.96, 0.50]))
    )
    # Another metric, named by the SLO.
    f1 = _slo("metric_spread", stability_metric="f1")
    with_f1 = [_version("v1", evaluation_set="holdout")]
    with_f1[0].metrics = {"f1": 0.7}
    new = _version("v2")
    new.metrics = {"f1": 0.9}
    assert stability_value(f1, new, with_f1) == pytest.approx(0.1)
    # Nothing to compare: the first version, or a version without the metric.
    assert stability_value(spread, _version("v1", accuracy=0.9), []) is _NO_READING
    assert stability_value(spread, _version("v6"), earlier) is _NO_READING
    assert stability_value(spread, _version("v6", accuracy=0.9, evaluation_set="new"), earlier) is _NO_READING
