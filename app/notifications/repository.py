"""Queries on the notification outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.notifications.models import Notification


def add(*, db_session: Session, notification: Notification) -> Notification:
    db_session.add(notification)
    db_session.flush()
    return notification


def claim_due(*, db_session: Session, now: datetime, limit: int) -> Sequence[Notification]:
    """Pending notifications that are due, oldest first; rows another worker holds are skipped."""
    return db_session.scalars(
        select(Notification)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def list_recent(
    *, db_session: Session, status: str | None = None, breach_id: int | None = None, limit: int = 100
) -> Sequence[Notification]:
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Notification.status == status)
    if breach_id is not None:
        query = query.where(Notification.breach_id == breach_id)
    return db_session.scalars(query).all()
