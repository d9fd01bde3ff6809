"""The outbox: notifications are written in the transaction that changed the breach, then a
worker delivers them with retries, so an alert is neither lost with a crash nor sent twice."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.clock import Clock
from app.config import Settings
from app.db import SessionFactory, transaction
from app.notifications import repository
from app.notifications.messages import BreachAlert, NotificationEvent
from app.notifications.models import Notification
from app.notifications.pagerduty import build_pagerduty_event
from app.notifications.slack import DeliveryResult
from app.notifications.slack_message import build_slack_message
from app.notifications.webhook import build_retrain_request, build_webhook_payload

logger = logging.getLogger(__name__)

FIRST_RETRY_DELAY = timedelta(seconds=5)
MAX_RETRY_DELAY = timedelta(minutes=10)

SLACK, WEBHOOK, PAGERDUTY, RETRAIN = "slack", "webhook", "pagerduty", "retrain"


class Sender(Protocol):
    def send(self, payload: dict[str, Any]) -> DeliveryResult: ...


@dataclass(frozen=True, slots=True)
class Targets:
    """The alert targets that are configured."""

    slack: bool = False
    webhook: bool = False
    pagerduty: bool = False
    retrain: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Targets:
        return cls(
            slack=settings.slack_webhook_url is not None,
            webhook=settings.webhook_url is not None,
            pagerduty=settings.pagerduty_routing_key is not None,
            retrain=settings.retrain_webhook_url is not None,
        )

    @property
    def any(self) -> bool:
        return self.slack or self.webhook or self.pagerduty or self.retrain


def targets_for(alert: BreachAlert, targets: Targets) -> list[str]:
    """Where one alert event goes (see `targets_for_event`)."""
    return targets_for_event(
        targets,
        event=alert.event,
        severity=alert.severity,
        sli_family=alert.sli_family,
        data_missing=alert.data_missing_since is not None,
    )


def targets_for_event(
    targets: Targets, *, event: NotificationEvent, severity: str, sli_family: str, data_missing: bool
) -> list[str]:
    """Slack and the generic webhook get every event; PagerDuty gets pages only (trigger on fire,
    escalation and repeat; resolve on resolution, with the same dedup key); the training pipeline
    is called once per episode, when an ML SLO starts burning."""
    chosen = []
    if targets.slack:
        chosen.append(SLACK)
    if targets.webhook:
        chosen.append(WEBHOOK)
    if targets.pagerduty and severity == "page":
        chosen.append(PAGERDUTY)
    if targets.retrain and sli_family == "ml" and event is NotificationEvent.FIRED and not data_missing:
        chosen.append(RETRAIN)
    return chosen


def render(target: str, alert: BreachAlert) -> dict[str, Any]:
    if target == SLACK:
        return build_slack_message(alert)
    if target == WEBHOOK:
        return build_webhook_payload(alert)
    if target == PAGERDUTY:
        return build_pagerduty_event(alert)
    return build_retrain_request(alert)


def enqueue_breach_alert(
    *,
    db_session: Session,
    clock: Clock,
    alert: BreachAlert,
    targets: Targets = Targets(slack=True),
    silence_id: int | None = None,
) -> list[Notification]:
    """Write the alert to the outbox, one row per target, in the caller's transaction (the one that
    changed the breach). A silenced alert is kept as `silenced`, never sent."""
    now = clock.now()
    return [
        repository.add(
            db_session=db_session,
            notification=Notification(
                breach_id=alert.breach_id,
                event=alert.event.value,
                target=target,
                channel=alert.owner_channel if target == SLACK else None,
                payload=render(target, alert),
                status="pending" if silence_id is None else "silenced",
                silence_id=silence_id,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            ),
        )
        for target in targets_for(alert, targets)
    ]


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 5s, 10s, 20s ... capped at 10 minutes."""
    return min(FIRST_RETRY_DELAY * (1 << max(attempts - 1, 0)), MAX_RETRY_DELAY)


def record_attempt(
    notification: Notification,
    result: DeliveryResult,
    *,
    now: datetime,
    max_attempts: int,
    dead_after: timedelta | None = None,
) -> None:
    """A delivery's outcome: sent; or retried after the receiver's Retry-After or the backoff; or
    dead (a dead letter) once it has failed `max_attempts` times or for `dead_after`."""
    notification.attempts += 1
    if result.delivered:
        notification.status = "sent"
        notification.delivered_at = now
        notification.last_error = None
        return
    notification.last_error = result.error
    too_old = dead_after is not None and now - notification.created_at >= dead_after
    if notification.attempts >= max_attempts or too_old or result.permanent:
        notification.status = "dead"
        return
    notification.next_attempt_at = now + (result.retry_after or retry_delay(notification.attempts))


def deliver_due(
    *,
    session_factory: SessionFactory,
    clock: Clock,
    senders: Mapping[str, Sender],
    max_attempts: int,
    dead_after: timedelta | None = None,
    max_notifications: int = 100,
) -> DeliveryReport:
    """Deliver due notifications one transaction each, so a delivery is recorded as soon as it
    happens and a crash can at most resend the one in flight. Per episode and target they go in
    the order they were written: one waiting for a retry holds back those after it. A notification
    that becomes a dead letter raises its own alert on the other targets."""
    report = DeliveryReport()
    for _ in range(max_notifications):
        with transaction(session_factory) as db_session:
            due = repository.claim_due(db_session=db_session, now=clock.now(), limit=1, targets=list(senders))
            if not due:
                break
            notification = due[0]
            result = senders[notification.target].send(notification.payload)
            record_attempt(
                notification, result, now=clock.now(), max_attempts=max_attempts, dead_after=dead_after
            )
            bucket = {"sent": report.sent, "dead": report.dead}.get(notification.status, report.retrying)
            bucket.append(notification.id)
            if notification.status == "dead":
                _raise_dead_letter(db_session, clock, notification, senders)
    return report


def _raise_dead_letter(
    db_session: Session, clock: Clock, dead: Notification, senders: Mapping[str, Sender]
) -> None:
    """Tell the humans, through every other target that can carry it, that an alert was lost."""
    logger.error(
        "notification %s (%s of breach %s to %s) is a dead letter: %s",
        dead.id,
        dead.event,
        dead.breach_id,
        dead.target,
        dead.last_error,
    )
    if dead.event == "dead_letter":
        return  # never a letter about a letter
    now = clock.now()
    for target in senders:
        if target in (dead.target, PAGERDUTY, RETRAIN):
            continue
        repository.add(
            db_session=db_session,
            notification=Notification(
                breach_id=dead.breach_id,
                event="dead_letter",
                target=target,
                channel=dead.channel,
                payload=dead_letter_message(target, dead),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            ),
        )


def dead_letter_message(target: str, dead: Notification) -> dict[str, Any]:
    summary = (
        f"mlslo could not deliver the {dead.event} notification of breach #{dead.breach_id} to "
        f"{dead.target} after {dead.attempts} attempts (last error: {dead.last_error}). "
        "It is kept as a dead letter: GET /api/v1/notifications?status=dead"
    )
    if target == SLACK:
        return {
            "text": f":warning: {summary}",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": summary[:3000]}}],
        }
    return {
        "version": 1,
        "event": "dead_letter",
        "notification_id": dead.id,
        "breach_id": dead.breach_id,
        "target": dead.target,
        "undelivered_event": dead.event,
        "attempts": dead.attempts,
        "last_error": dead.last_error,
        "summary": summary,
    }
