"""The outbox: notifications are written in the transaction that changed the breach, then a
worker delivers them with retries, so an alert is neither lost with a crash nor sent twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import SessionFactory, transaction
from app.notifications import repository
from app.notifications.messages import BreachAlert
from app.notifications.models import Notification
from app.notifications.slack import DeliveryResult
from app.notifications.slack_message import build_slack_message

FIRST_RETRY_DELAY = timedelta(seconds=5)
MAX_RETRY_DELAY = timedelta(minutes=10)


class Sender(Protocol):
    def send(self, payload: dict[str, object]) -> DeliveryResult: ...


def enqueue_breach_alert(*, db_session: Session, clock: Clock, alert: BreachAlert) -> Notification:
    now = clock.now()
    return repository.add(
        db_session=db_session,
        notification=Notification(
            breach_id=alert.breach_id,
            event=alert.event.value,
            target="slack",
            channel=alert.owner_channel,
            payload=build_slack_message(alert),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        ),
    )


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 5s, 10s, 20s ... capped at 10 minutes."""
    return min(FIRST_RETRY_DELAY * (1 << max(attempts - 1, 0)), MAX_RETRY_DELAY)


def record_attempt(
    notification: Notification, result: DeliveryResult, *, now: datetime, max_attempts: int
) -> None:
    notification.attempts += 1
    if result.delivered:
        notification.status = "sent"
        notification.delivered_at = now
        notification.last_error = None
        return
    notification.last_error = result.error
    if notification.attempts >= max_attempts:
        notification.status = "dead"
        return
    notification.next_attempt_at = now + (result.retry_after or retry_delay(notification.attempts))


def deliver_due(
    *,
    session_factory: SessionFactory,
    clock: Clock,
    sender: Sender,
    max_attempts: int,
    max_notifications: int = 100,
) -> DeliveryReport:
    """Deliver due notifications one transaction each, so a delivery is recorded as soon as it
    happens and a crash can at most resend the one in flight."""
    report = DeliveryReport()
    for _ in range(max_notifications):
        with transaction(session_factory) as db_session:
            due = repository.claim_due(db_session=db_session, now=clock.now(), limit=1)
            if not due:
                break
            notification = due[0]
            result = sender.send(notification.payload)
            record_attempt(notification, result, now=clock.now(), max_attempts=max_attempts)
            bucket = {"sent": report.sent, "dead": report.dead}.get(notification.status, report.retrying)
            bucket.append(notification.id)
    return report
