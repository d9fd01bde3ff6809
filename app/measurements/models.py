"""ORM model of per-minute SLI counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class SloMinuteCount(Base):
    """Good and total events of one SLO in one minute, keyed by the minute's start (UTC)."""

    __tablename__ = "slo_minute_count"
    __table_args__ = (CheckConstraint("good >= 0 AND good <= total", name="good_within_total"),)

    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    good: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
