"""Queries on the notification outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from app.notifications.models import Notification

# How the senders record a receiver's 429 ("HTTP 429: <body>"); its Retry-After is the next attempt.
RATE_LIMITED_ERROR_PREFIX = "HTTP 429"


def add(*, db_session: Session, notification: Notification) -> Notification:
    db_session.add(notification)
    db_session.flush()
    return notification


def claim_due(
    *, db_session: Session, now: datetime, limit: int, targets: Sequence[str] | None = None
) -> Sequence[Notification]:
    """Pending notifications that are due, oldest first, for the given targets; rows another worker
    holds are skipped, and so is any notification with an older one of the same breach and target
    still pending, so each episode's notifications reach each target in order. A target whose
    receiver answered 429 gets nothing until that Retry-After has passed: the limit is the
    receiver's (a Slack webhook's), not one message's."""
    earlier = aliased(Notification)
    limited = aliased(Notification)
    query = (
        select(Notification)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .where(
            ~exists().where(
                earlier.breach_id == Notification.breach_id,
                earlier.target == Notification.target,
                earlier.status == "pending",
                earlier.id < Notification.id,
            )
        )
        .where(
            ~exists().where(
                limited.target == Notification.target,
                limited.status == "pending",
                limited.next_attempt_at > now,
                limited.last_error.startswith(RATE_LIMITED_ERROR_PREFIX, autoescape=True),
            )
        )
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Notification)
    )
    if targets is not None:
        query = query.where(Notification.target.in_(list(targets)))
    return db_session.scalars(query).all()


def list_recent(
    *, db_session: Session, status: str | None = None, breach_id: int | None = None, limit: int = 100
) -> Sequence[Notification]:
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Notification.status == status)
    if breach_id is not None:
        query = query.where(Notification.breach_id == breach_id)
    return db_session.scalars(query).all()


def count_by_status_and_target(*, db_session: Session) -> dict[tuple[str, str], int]:
    rows = db_session.execute(
        select(Notification.status, Notification.target, func.count()).group_by(
            Notification.status, Notification.target
        )
    ).all()
    return {(status, target): int(count) for status, target, count in rows}
