"""The scheduled evaluation of every SLO in force."""

from __future__ import annotations

import logging

from app.db import transaction
from app.evaluation import service
from app.evaluation.service import EvaluationReport
from app.jobs import JobContext, ScheduledJob

logger = logging.getLogger(__name__)


def evaluate_slos(context: JobContext) -> EvaluationReport:
    # One transaction per run: status, breaches and their notifications land together or not at all.
    with transaction(context.session_factory) as db_session:
        report = service.evaluate_all(db_session=db_session, clock=context.clock, settings=context.settings)
    if report.breaches_opened or report.breaches_resolved or report.breaches_escalated:
        logger.info(
            "evaluated %d SLOs: opened %s, escalated %s, resolved %s",
            report.slos_evaluated,
            report.breaches_opened,
            report.breaches_escalated,
            report.breaches_resolved,
        )
    return report


EVALUATION_JOB = ScheduledJob(
    id="evaluate-slos",
    run=evaluate_slos,
    interval_seconds=lambda settings: settings.evaluation_interval_seconds,
)
