"""Whether a batch job run counts as good for a job SLI (success rate or throughput)."""

from __future__ import annotations

import enum

from app.core.sli_catalog import Comparison


class JobSliKind(enum.StrEnum):
    """The job SLIs that count runs. Freshness (age since the last success) is a value SLI and is
    not decided run by run."""

    JOB_SUCCESS = "job_success"
    JOB_THROUGHPUT = "job_throughput"


# A throughput objective states the rows per second a good run reaches: at least, by default.
DEFAULT_THROUGHPUT_OP = Comparison.GTE


def throughput(*, rows_processed: int | None, duration_seconds: float) -> float | None:
    """Rows per second of a run, or None when it cannot be known: no row count, or no duration."""
    if rows_processed is None or duration_seconds <= 0:
        return None
    return rows_processed / duration_seconds


def job_run_is_good(
    kind: JobSliKind,
    *,
    succeeded: bool,
    duration_seconds: float,
    rows_processed: int | None,
    op: Comparison | None = None,
    threshold: float | None = None,
) -> bool:
    """Job-success SLIs call a run good when it succeeded. Throughput SLIs call a run good when it
    succeeded and its rows per second compare with the threshold as `op` says (gte by default); a
    run without a row count or with a zero duration has no throughput and is bad."""
    if kind is JobSliKind.JOB_SUCCESS:
        return succeeded
    if threshold is None:
        raise ValueError("a throughput SLI needs a threshold")
    if not succeeded:
        return False
    rate = throughput(rows_processed=rows_processed, duration_seconds=duration_seconds)
    if rate is None:
        return False
    return (op or DEFAULT_THROUGHPUT_OP).holds(rate, threshold)
