"""ORM model of the notification outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Identity, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'dead', 'silenced')", name="status"),
        CheckConstraint(
            "event IN ('fired', 'escalated', 'repeated', 'acknowledged', 'resolved', 'dead_letter')",
            name="event",
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    breach_id: Mapped[int] = mapped_column(ForeignKey("breach.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when a silence matched: the notification is kept, never sent.
    silence_id: Mapped[int | None] = mapped_column(ForeignKey("silence.id", ondelete="SET NULL"))
