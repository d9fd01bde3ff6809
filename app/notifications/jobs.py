"""The scheduled delivery of the notification outbox."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx

from app.config import Settings
from app.jobs import JobContext, ScheduledJob
from app.notifications import service
from app.notifications.pagerduty import PagerDutySender
from app.notifications.service import DeliveryReport, Sender
from app.notifications.slack import SlackWebhookNotifier
from app.notifications.webhook import SignedWebhookSender

logger = logging.getLogger(__name__)


def senders_from_settings(settings: Settings, http_client: httpx.Client) -> dict[str, Sender]:
    """A sender for each configured target."""
    senders: dict[str, Sender] = {}
    if settings.slack_webhook_url is not None:
        senders[service.SLACK] = SlackWebhookNotifier(http_client, settings.slack_webhook_url)
    if settings.webhook_url is not None:
        senders[service.WEBHOOK] = SignedWebhookSender(
            http_client, settings.webhook_url, settings.webhook_secret
        )
    if settings.pagerduty_routing_key is not None:
        senders[service.PAGERDUTY] = PagerDutySender(
            http_client, settings.pagerduty_routing_key, settings.pagerduty_events_url
        )
    if settings.retrain_webhook_url is not None:
        senders[service.RETRAIN] = SignedWebhookSender(
            http_client, settings.retrain_webhook_url, settings.retrain_webhook_secret
        )
    return senders


def deliver_notifications(context: JobContext) -> DeliveryReport:
    senders = senders_from_settings(context.settings, context.http_client)
    if not senders:
        return DeliveryReport()
    report = service.deliver_due(
        session_factory=context.session_factory,
        clock=context.clock,
        senders=senders,
        max_attempts=context.settings.delivery_max_attempts,
        dead_after=timedelta(seconds=context.settings.delivery_dead_after_seconds),
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
