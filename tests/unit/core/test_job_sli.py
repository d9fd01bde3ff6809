"""Whether a job run is good for a job-success or a throughput SLI."""

from __future__ import annotations

import pytest

from app.core.job_sli import JobSliKind, job_run_is_good, throughput
from app.core.sli_catalog import Comparison


@pytest.mark.parametrize("succeeded", [True, False])
def test_a_job_success_run_is_good_when_it_succeeded(succeeded: bool) -> None:
    assert (
        job_run_is_good(JobSliKind.JOB_SUCCESS, succeeded=succeeded, duration_seconds=0, rows_processed=None)
        is succeeded
    )


def test_throughput_is_rows_per_second_and_unknown_without_rows_or_duration() -> None:
    assert throughput(rows_processed=1200, duration_seconds=60) == 20
    assert throughput(rows_processed=None, duration_seconds=60) is None
    assert throughput(rows_processed=1200, duration_seconds=0) is None


@pytest.mark.parametrize(
    ("rows", "seconds", "op", "good"),
    [
        (1200, 60, None, True),  # 20 rows/s >= 20 (gte by default)
        (1199, 60, None, False),
        (1200, 60, Comparison.GT, False),
        (1260, 60, Comparison.GT, True),
        (600, 60, Comparison.LTE, True),  # an objective may also cap the rate
        (None, 60, None, False),  # no row count: no throughput, bad
        (1200, 0, None, False),  # zero duration: no throughput, bad
        (0, 60, Comparison.GTE, False),
    ],
)
def test_a_throughput_run_is_good_when_its_rate_meets_the_threshold(
    rows: int | None, seconds: float, op: Comparison | None, good: bool
) -> None:
    assert (
        job_run_is_good(
            JobSliKind.JOB_THROUGHPUT,
            succeeded=True,
            duration_seconds=seconds,
            rows_processed=rows,
            op=op,
            threshold=20.0,
        )
        is good
    )


def test_a_failed_run_is_bad_for_throughput_however_fast() -> None:
    assert not job_run_is_good(
        JobSliKind.JOB_THROUGHPUT, succeeded=False, duration_seconds=1, rows_processed=10**9, threshold=1.0
    )


def test_a_throughput_sli_needs_a_threshold() -> None:
    with pytest.raises(ValueError, match="threshold"):
        job_run_is_good(JobSliKind.JOB_THROUGHPUT, succeeded=True, duration_seconds=1, rows_processed=1)
