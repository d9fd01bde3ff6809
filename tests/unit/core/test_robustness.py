"""The robustness maths: the noise recipe (scale, reproducibility, constant features), label equality,
accuracy, flip rate and the ratio, on real data where data matters."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_wine

from app.core.robustness import (
    FloatArray,
    RobustnessResult,
    accuracy,
    feature_noise_scale,
    flip_rate,
    perturb_features,
    robustness_ratio,
    same_label,
    score_robustness,
)


@pytest.fixture(scope="module")
def wine_features() -> FloatArray:
    features: FloatArray = load_wine().data.astype(np.float64)
    return features


def test_noise_scale_is_the_population_standard_deviation(wine_features: FloatArray) -> None:
    scale = feature_noise_scale(wine_features)
    assert scale == pytest.approx(np.std(wine_features, axis=0, ddof=0), rel=1e-15)
    assert not np.allclose(scale, np.std(wine_features, axis=0, ddof=1))


def test_a_constant_feature_has_no_noise_even_when_rounding_gives_it_a_tiny_std() -> None:
    constant = np.full(7, 0.1)
    assert np.std(constant) > 0  # the rounding the scale must not inherit
    features = np.column_stack([constant, np.arange(7.0)])
    scale = feature_noise_scale(features)
    assert scale[0] == 0.0
    perturbed = perturb_features(features, sigma=3.0, noise_scale=scale, seed=1)
    assert np.array_equal(perturbed[:, 0], constant)
    assert not np.array_equal(perturbed[:, 1], features[:, 1])


def test_perturbation_follows_the_documented_recipe(wine_features: FloatArray) -> None:
    scale = feature_noise_scale(wine_features)
    perturbed = perturb_features(wine_features, sigma=0.3, noise_scale=scale, seed=42)
    draws = np.random.default_rng(42).standard_normal(wine_features.shape)
    assert np.array_equal(perturbed, wine_features + draws * (0.3 * wine_features.std(axis=0)))


def test_perturbation_is_reproducible_from_the_seed(wine_features: FloatArray) -> None:
    scale = feature_noise_scale(wine_features)
    first = perturb_features(wine_features, sigma=0.1, noise_scale=scale, seed=5)
    again = perturb_features(wine_features, sigma=0.1, noise_scale=scale, seed=5)
    other = perturb_features(wine_features, sigma=0.1, noise_scale=scale, seed=6)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_noise_has_sigma_standard_deviations_per_feature() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(loc=[0.0, 100.0], scale=[1.0, 50.0], size=(200_000, 2))
    scale = feature_noise_scale(features)
    noise = perturb_features(features, sigma=0.5, noise_scale=scale, seed=3) - features
    assert noise.std(axis=0) == pytest.approx(0.5 * scale, rel=0.01)
    assert noise.mean(axis=0) == pytest.approx([0.0, 0.0], abs=0.01 * scale.max())


def test_zero_sigma_changes_nothing(wine_features: FloatArray) -> None:
    scale = feature_noise_scale(wine_features)
    assert np.array_equal(
        perturb_features(wine_features, sigma=0.0, noise_scale=scale, seed=9), wine_features
    )


@pytest.mark.parametrize("sigma", [-0.1, float("nan"), float("inf")])
def test_invalid_sigma_is_refused(wine_features: FloatArray, sigma: float) -> None:
    with pytest.raises(ValueError, match="sigma"):
        perturb_features(wine_features, sigma=sigma, noise_scale=feature_noise_scale(wine_features), seed=0)


def test_an_empty_matrix_has_no_noise_scale() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        feature_noise_scale(np.empty((0, 3)))


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (1, 1.0, True),
        (np.int64(2), 2.0, True),
        (np.float32(0.5), 0.5, True),
        ("setosa", np.str_("setosa"), True),
        ("1", 1, False),
        (1, 2, False),
        (float("nan"), float("nan"), False),
    ],
)
def test_labels_compare_by_value(left: object, right: object, equal: bool) -> None:
    assert same_label(left, right) is equal


def test_accuracy_and_flip_rate() -> None:
    labels = [0, 1, 1, 2]
    assert accuracy([0.0, 1.0, 2.0, 2.0], labels) == 0.75
    assert flip_rate([0, 1, 1, 2], [0, 2, 1, 0]) == 0.5
    assert flip_rate(labels, labels) == 0.0


def test_lists_of_different_lengths_or_empty_lists_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        accuracy([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        flip_rate([], [])


def test_ratio_is_noisy_over_clean_and_undefined_without_clean_accuracy() -> None:
    assert robustness_ratio(noisy_accuracy=0.6, clean_accuracy=0.8) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="clean accuracy is 0"):
        robustness_ratio(noisy_accuracy=0.0, clean_accuracy=0.0)


def test_score_combines_the_three_prediction_lists() -> None:
    result = score_robustness(
        labels=["a", "b", "b", "a"],
        clean_predictions=["a", "b", "b", "b"],
        noisy_predictions=["a", "a", "b", "b"],
        flip_predictions=["a", "b", "a", "b"],
        noise_sigma=0.2,
        flip_sigma=0.01,
        seed=4,
    )
    assert result == RobustnessResult(
        rows=4,
        clean_accuracy=0.75,
        noisy_accuracy=0.5,
        robustness_ratio=pytest.approx(2 / 3),  # type: ignore[arg-type]
        flip_rate=0.25,
        noise_sigma=0.2,
        flip_sigma=0.01,
        seed=4,
    )
