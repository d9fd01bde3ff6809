"""Pushed batch job runs: their API schemas, and their ingestion into per-minute good/total counts
of the job SLOs (success rate, throughput) in force. Raw runs are not kept."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy.orm import Session

from app.clock import Clock
from app.core.job_sli import JobSliKind, job_run_is_good
from app.core.sli_catalog import Comparison, SliKind, Source
from app.errors import InvalidInputError
from app.measurements import repository
from app.measurements.service import MAX_CLOCK_SKEW, minute_start
from app.slos import repository as slos_repository
from app.slos.models import Slo
from app.systems.models import System
from app.timestamps import Timestamp

MAX_RUNS_PER_BATCH = 10_000

JobOutcome = Literal["success", "failure"]


class JobRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job: Annotated[str, Field(min_length=1, max_length=200, description="The job's name.")]
    started_at: Timestamp = Field(description="When the run started; timezone required.")
    finished_at: Timestamp = Field(
        description="When the run ended; timezone required. The run counts in this minute."
    )
    outcome: JobOutcome
    rows_processed: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="Rows the run processed; needed for throughput SLIs."
    )

    @field_validator("finished_at")
    @classmethod
    def _not_before_start(cls, finished_at: datetime, info: ValidationInfo) -> datetime:
        started_at = info.data.get("started_at")
        if started_at is not None and finished_at < started_at:
            raise ValueError("finished_at must not be before started_at")
        return finished_at

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


class JobRunBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: list[JobRun] = Field(min_length=1, max_length=MAX_RUNS_PER_BATCH)


class JobRunIngestResult(BaseModel):
    accepted_runs: int
    slos_updated: list[str] = Field(description="The SLOs that at least one run counted for.")
    minutes_updated: int


def _counts_run(slo: Slo, job: str) -> bool:
    """An SLO names the job whose runs it counts; one without a job name counts every job."""
    sli = slo.definition.get("sli") if isinstance(slo.definition, dict) else None
    wanted = sli.get("job") if isinstance(sli, dict) else None
    return wanted is None or wanted == job


def ingest_job_runs(
    *, db_session: Session, clock: Clock, system: System, batch: JobRunBatch
) -> JobRunIngestResult:
    """Count each run, at the minute it finished, for every pushed job SLO in force of the system
    that follows its job."""
    runs = batch.runs
    latest_allowed = clock.now() + MAX_CLOCK_SKEW
    for index, run in enumerate(runs):
        if run.finished_at > latest_allowed:
            raise InvalidInputError(
                f"finished_at {run.finished_at.isoformat()} is more than {MAX_CLOCK_SKEW} in the future",
                field=f"runs.{index}.finished_at",
            )
    job_kinds = set(JobSliKind)
    in_force = [
        slo
        for slo, _ in slos_repository.list_in_force(db_session=db_session, system_id=system.id)
        if slo.source == Source.PUSH
    ]
    job_slos = [slo for slo in in_force if slo.sli_kind in job_kinds]
    counts: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])
    updated: list[str] = []
    # Freshness SLOs keep each successful run as a marker at its minute; the evaluation measures
    # the age of the latest one at the end of every slice.
    for slo in (slo for slo in in_force if slo.sli_kind == SliKind.FRESHNESS):
        successes = [run for run in runs if run.outcome == "success" and _counts_run(slo, run.job)]
        for run in successes:
            cell = counts[(slo.id, minute_start(run.finished_at))]
            cell[0] += 1
            cell[1] += 1
        if successes:
            updated.append(slo.name)
    for slo in job_slos:
        kind = JobSliKind(slo.sli_kind)
        op = None if slo.objective_op is None else Comparison(slo.objective_op)
        counted = False
        for run in runs:
            if not _counts_run(slo, run.job):
                continue
            good = job_run_is_good(
                kind,
                succeeded=run.outcome == "success",
                duration_seconds=run.duration_seconds,
                rows_processed=run.rows_processed,
                op=op,
                threshold=slo.objective_value,
            )
            cell = counts[(slo.id, minute_start(run.finished_at))]
            cell[0] += int(good)
            cell[1] += 1
            counted = True
        if counted:
            updated.append(slo.name)
    rows = [(slo_id, minute, good, total) for (slo_id, minute), (good, total) in counts.items()]
    repository.add_minute_counts(db_session=db_session, rows=rows)
    return JobRunIngestResult(accepted_runs=len(runs), slos_updated=updated, minutes_updated=len(rows))
