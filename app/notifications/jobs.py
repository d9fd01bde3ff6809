"""The scheduled delivery of the notification outbox."""

from __future__ import annotations

import logging

from app.jobs import JobContext, ScheduledJob
from app.notifications import service
from app.notifications.service import DeliveryReport
from app.notifications.slack import SlackWebhookNotifier

logger = logging.getLogger(__name__)


def deliver_notifications(context: JobContext) -> DeliveryReport:
    webhook_url = context.settings.slack_webhook_url
    if webhook_url is None:
        return DeliveryReport()
    report = service.deliver_due(
        session_factory=context.session_factory,
        clock=context.clock,
        sender=SlackWebhookNotifier(context.http_client, webhook_url),
        max_attempts=context.settings.delivery_max_attempts,
    )
    if report.sent or report.dead or report.retrying:
        logger.info(
            "notifications: %d sent, %d retrying, %d dead",
            len(report.sent),
            len(report.retrying),
            len(report.dead),
        )
    return report


DELIVERY_JOB = ScheduledJob(
    id="deliver-notifications",
    run=deliver_notifications,
    interval_seconds=lambda settings: settings.delivery_interval_seconds,
)
