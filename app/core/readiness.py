"""Which of the ML Test Score's seven monitoring tests (Breck et al. 2017) a system's SLOs cover.

An SLO covers a test when what it measures is that test's check, collected automatically (1 point:
the SLO is evaluated continuously and alerts); the paper gives 0.5 for a test done by hand, which
an SLO never is. The score is the sum over the seven tests, so at most 7.

| test | covered by SLIs that |
|---|---|
| 1 dependency changes notify | watch inputs that upstream changes break: data drift, freshness of the jobs that feed the model |
| 2 data invariants hold in training and serving | check the data served against its reference: data quality, data drift |
| 3 training and serving features compute the same values | compare serving features with the training reference: data drift |
| 4 models are not too stale | measure the serving model's age: model staleness |
| 5 the model is numerically stable | look for NaN/Inf in what the model gives: data quality |
| 6 no regression in training speed, serving latency, throughput or RAM | latency, job throughput |
| 7 no regression in prediction quality on served data | classification quality, regression error, prediction bias, robustness |

Retrain stability (churn, negative flips, metric spread on a fixed evaluation set) covers none of
them: it validates a new model before it serves (the paper's infrastructure tests), and measures
neither speed, latency, throughput nor RAM, nor quality on served data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.core.sli_catalog import SliKind

TESTS: tuple[tuple[str, frozenset[SliKind], str], ...] = (
    (
        "dependency changes notify",
        frozenset({SliKind.DATA_DRIFT, SliKind.FRESHNESS}),
        "a data_drift SLO on the model's inputs, or a freshness SLO on the jobs that feed it",
    ),
    (
        "data invariants hold in training and serving",
        frozenset({SliKind.DATA_QUALITY, SliKind.DATA_DRIFT}),
        "a data_quality SLO (missing, out-of-range, unseen values) or a data_drift SLO",
    ),
    (
        "training and serving features compute the same values",
        frozenset({SliKind.DATA_DRIFT}),
        "a data_drift SLO comparing served features with the training reference",
    ),
    ("models are not too stale", frozenset({SliKind.MODEL_STALENESS}), "a model_staleness SLO"),
    (
        "the model is numerically stable (no NaN/Inf)",
        frozenset({SliKind.DATA_QUALITY}),
        "a data_quality SLO, which counts NaN/Inf in predictions",
    ),
    (
        "no regression in training speed, serving latency, throughput or RAM",
        frozenset({SliKind.LATENCY, SliKind.JOB_THROUGHPUT}),
        "a latency or job_throughput SLO",
    ),
    (
        "no regression in prediction quality on served data",
        frozenset(
            {
                SliKind.CLASSIFICATION_QUALITY,
                SliKind.REGRESSION_ERROR,
                SliKind.PREDICTION_BIAS,
                SliKind.ROBUSTNESS,
            }
        ),
        "a classification_quality, regression_error, prediction_bias or robustness SLO",
    ),
)
AUTOMATED_POINTS = 1.0
MAX_SCORE = AUTOMATED_POINTS * len(TESTS)


@dataclass(frozen=True, slots=True)
class TestCoverage:
    __test__ = False  # not a pytest test class, whatever its name
    number: int
    name: str
    covered_by: tuple[str, ...]
    points: float
    missing: str | None


@dataclass(frozen=True, slots=True)
class Readiness:
    score: float
    tests: tuple[TestCoverage, ...]

    @property
    def max_score(self) -> float:
        return MAX_SCORE


def ml_test_score(slo_kinds: Mapping[str, SliKind] | Iterable[tuple[str, SliKind]]) -> Readiness:
    """The coverage of each test by the SLOs (name → SLI kind), and the score."""
    pairs = list(slo_kinds.items()) if isinstance(slo_kinds, Mapping) else list(slo_kinds)
    tests = []
    for number, (name, kinds, remedy) in enumerate(TESTS, start=1):
        covering = tuple(sorted(slo for slo, kind in pairs if kind in kinds))
        points = AUTOMATED_POINTS if covering else 0.0
        tests.append(
            TestCoverage(
                number=number,
                name=name,
                covered_by=covering,
                points=points,
                missing=None if covering else f"add {remedy}",
            )
        )
    return Readiness(score=sum(test.points for test in tests), tests=tuple(tests))
