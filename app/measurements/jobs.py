"""The scheduled upkeep of measurement partitions: months ahead are created, expired ones dropped."""

from __future__ import annotations

import logging
from datetime import timedelta

from app.config import Settings
from app.db import transaction
from app.jobs import JobContext, ScheduledJob
from app.measurements import service
from app.measurements.service import PartitionReport

logger = logging.getLogger(__name__)

PARTITION_INTERVAL_SECONDS = 3600.0


def retention(settings: Settings) -> timedelta:
    return timedelta(days=settings.measurement_retention_days)


def maintain_measurement_partitions(context: JobContext) -> PartitionReport:
    with transaction(context.session_factory) as db_session:
        report = service.maintain_partitions(
            db_session=db_session, clock=context.clock, retention=retention(context.settings)
        )
    if report.created or report.dropped or report.default_rows_deleted:
        logger.info(
            "measurement partitions: created %s, dropped %s, %d expired rows deleted",
            report.created,
            report.dropped,
            report.default_rows_deleted,
        )
    return report


PARTITION_JOB = ScheduledJob(
    id="maintain-measurement-partitions",
    run=maintain_measurement_partitions,
    interval_seconds=lambda settings: PARTITION_INTERVAL_SECONDS,
)
