"""ORM models of the latest SLO status and of breaches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Identity, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class SloStatus(Base):
    """The latest evaluation of one SLO."""

    __tablename__ = "slo_status"

    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"), primary_key=True)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sli: Mapped[float | None] = mapped_column(Float)
    good_events: Mapped[int] = mapped_column(BigInteger)
    total_events: Mapped[int] = mapped_column(BigInteger)
    # None where the phase does not evaluate budgets (concept).
    error_budget_remaining: Mapped[float | None] = mapped_column(Float)
    burn_rates: Mapped[dict[str, float | None]] = mapped_column(JSONB)
    time_to_exhaustion_seconds: Mapped[float | None] = mapped_column(Float)
    alert_severity: Mapped[str | None] = mapped_column(Text)


class Breach(Base):
    """An episode during which an SLO's burn-rate alert fired."""

    __tablename__ = "breach"
    __table_args__ = (
        CheckConstraint("severity IN ('page', 'ticket')", name="severity"),
        Index(
            "uq_breach_open_per_slo",
            "slo_id",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"), index=True)
    severity: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    peak_burn_rate: Mapped[float] = mapped_column(Float)
    error_budget_remaining_at_open: Mapped[float] = mapped_column(Float)
    opening_details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The alert episode: a key stable per SLO and severity (never the window), the state at its
    # peak and at its end, acknowledgement (which mutes repeats, never the resolved notice), and
    # when it was last notified (for repeats).
    dedup_key: Mapped[str] = mapped_column(Text, server_default="")
    start_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    peak_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    closing_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(Text)
    acknowledgement_comment: Mapped[str | None] = mapped_column(Text)
    last_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
