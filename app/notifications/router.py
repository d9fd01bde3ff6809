"""HTTP endpoints of the notification outbox."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from app.deps import Admin, DbSession, IdInQuery
from app.notifications import repository
from app.notifications.schemas import NotificationRead

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=list[NotificationRead])
def list_notifications(
    db_session: DbSession,
    _: Admin,
    status: Literal["pending", "sent", "dead"] | None = None,
    breach_id: IdInQuery = None,
) -> list[NotificationRead]:
    rows = repository.list_recent(db_session=db_session, status=status, breach_id=breach_id)
    return [NotificationRead.model_validate(row) for row in rows]
