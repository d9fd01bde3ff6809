"""ORM models of silences and of the exceptions granted to a release freeze."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Identity, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Silence(Base):
    """Mutes the notifications of a system, of one of its SLOs, or of one severity, for a while.

    `system` and `slo` are names, not foreign keys: a silence may outlive an SLO's archival and
    keeps saying what it was meant to mute."""

    __tablename__ = "silence"
    __table_args__ = (
        CheckConstraint("severity IN ('page', 'ticket')", name="severity"),
        CheckConstraint("btrim(comment) <> ''", name="comment_not_empty"),
        # Expiring a silence that has not started yet ends it before its start.
        CheckConstraint("ends_at > starts_at OR expired_at IS NOT NULL", name="ends_after_start"),
        Index("ix_silence_system_ends_at", "system", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    system: Mapped[str] = mapped_column(Text)
    # None: every SLO of the system; any severity.
    slo: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FreezeException(Base):
    """Lets P0 or security releases through a system's error-budget freeze until it expires."""

    __tablename__ = "freeze_exception"
    __table_args__ = (
        CheckConstraint("kind IN ('p0', 'security')", name="kind"),
        CheckConstraint("btrim(reason) <> ''", name="reason_not_empty"),
        CheckConstraint("expires_at > granted_at", name="expires_after_grant"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
