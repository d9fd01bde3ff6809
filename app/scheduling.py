"""Builds the APScheduler scheduler from the jobs the domains declare."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.util import undefined

from app.collectors.jobs import COLLECTION_JOB
from app.evaluation.jobs import EVALUATION_JOB
from app.jobs import JobContext, ScheduledJob
from app.measurements.jobs import PARTITION_JOB
from app.notifications.jobs import DELIVERY_JOB

logger = logging.getLogger(__name__)

ALL_JOBS: tuple[ScheduledJob, ...] = (COLLECTION_JOB, EVALUATION_JOB, DELIVERY_JOB, PARTITION_JOB)


def _run_logged(job: ScheduledJob, context: JobContext) -> None:
    try:
        job.run(context)
    except Exception:
        # A failing run must not kill the scheduler; the next interval tries again.
        logger.exception("scheduled job %s failed", job.id)


def build_scheduler(context: JobContext, jobs: Sequence[ScheduledJob] = ALL_JOBS) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    for job in jobs:
        # Hourly upkeep starts at once; the frequent jobs wait one interval.
        first_run = datetime.now(UTC) if job.interval_seconds(context.settings) >= 3600 else None
        scheduler.add_job(
            _run_logged,
            "interval",
            seconds=job.interval_seconds(context.settings),
            args=(job, context),
            id=job.id,
            name=job.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=first_run or undefined,
        )
    return scheduler
