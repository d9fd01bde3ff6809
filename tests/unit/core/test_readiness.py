"""The ML Test Score's seven monitoring tests: which SLI kinds cover each, the score (one point per
automated test), and what to add for each test not covered."""

from __future__ import annotations

import pytest

from app.core.readiness import MAX_SCORE, TESTS, ml_test_score
from app.core.sli_catalog import SliKind

K = SliKind


def _covering(kind: SliKind) -> list[int]:
    """The tests one SLO of this kind covers."""
    readiness = ml_test_score({"only": kind})
    return [test.number for test in readiness.tests if test.covered_by]


@pytest.mark.parametrize(
    ("kind", "tests"),
    [
        (K.DATA_DRIFT, [1, 2, 3]),
        (K.FRESHNESS, [1]),
        (K.DATA_QUALITY, [2, 5]),
        (K.MODEL_STALENESS, [4]),
        (K.LATENCY, [6]),
        (K.JOB_THROUGHPUT, [6]),
        (K.CLASSIFICATION_QUALITY, [7]),
        (K.REGRESSION_ERROR, [7]),
        (K.PREDICTION_BIAS, [7]),
        (K.ROBUSTNESS, [7]),
        # Validation before serving, not monitoring: no test.
        (K.RETRAIN_STABILITY, []),
        (K.ERROR_RATE, []),
        (K.JOB_SUCCESS, []),
    ],
)
def test_each_kind_covers_its_tests(kind: SliKind, tests: list[int]) -> None:
    assert _covering(kind) == tests
    assert ml_test_score({"only": kind}).score == len(tests)


def test_every_kind_is_placed() -> None:
    assert len(TESTS) == 7
    assert MAX_SCORE == 7.0
    placed = {kind for _, kinds, _ in TESTS for kind in kinds}
    assert set(SliKind) - placed == {K.ERROR_RATE, K.JOB_SUCCESS, K.RETRAIN_STABILITY}


def test_no_slos_score_zero_and_every_test_says_what_to_add() -> None:
    readiness = ml_test_score([])

    assert readiness.score == 0.0
    assert readiness.max_score == 7.0
    assert [test.number for test in readiness.tests] == [1, 2, 3, 4, 5, 6, 7]
    assert all(test.points == 0.0 and test.covered_by == () for test in readiness.tests)
    missing = {test.number: test.missing for test in readiness.tests}
    assert missing[4] == "add a model_staleness SLO"
    assert missing[6] == "add a latency or job_throughput SLO"
    assert all(text is not None and text.startswith("add a ") for text in missing.values())


def test_a_typical_system_scores_its_covered_tests_once_each() -> None:
    slos = [
        ("api-latency", K.LATENCY),
        ("api-errors", K.ERROR_RATE),
        ("accuracy", K.CLASSIFICATION_QUALITY),
        ("f1", K.CLASSIFICATION_QUALITY),
        ("input-validity", K.DATA_QUALITY),
        ("churn", K.RETRAIN_STABILITY),
    ]

    readiness = ml_test_score(slos)

    by_number = {test.number: test for test in readiness.tests}
    assert readiness.score == 4.0  # tests 2, 5, 6 and 7; two quality SLOs still count once
    assert {n: test.covered_by for n, test in by_number.items() if test.covered_by} == {
        2: ("input-validity",),
        5: ("input-validity",),
        6: ("api-latency",),
        7: ("accuracy", "f1"),
    }
    assert {n: test.points for n, test in by_number.items()} == {
        1: 0.0,
        2: 1.0,
        3: 0.0,
        4: 0.0,
        5: 1.0,
        6: 1.0,
        7: 1.0,
    }
    assert [n for n, test in by_number.items() if test.missing] == [1, 3, 4]
    assert (
        by_number[3].missing == "add a data_drift SLO comparing served features with the training reference"
    )
    assert by_number[2].missing is None
    # A mapping gives the same answer as pairs.
    assert ml_test_score(dict(slos)) == readiness


def test_full_coverage_reaches_the_maximum() -> None:
    readiness = ml_test_score(
        {
            "drift": K.DATA_DRIFT,
            "validity": K.DATA_QUALITY,
            "age": K.MODEL_STALENESS,
            "latency": K.LATENCY,
            "accuracy": K.CLASSIFICATION_QUALITY,
        }
    )

    assert readiness.score == readiness.max_score == 7.0
    assert all(test.missing is None for test in readiness.tests)
    assert readiness.tests[0].covered_by == ("drift",)
    assert readiness.tests[1].covered_by == ("drift", "validity")
