"""ORM model of collector runs: one row per SLO and collection slot, which is also the claim that
makes a slot run exactly once across every mlslo process sharing the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class CollectorRun(Base):
    __tablename__ = "collector_run"
    __table_args__ = (
        UniqueConstraint("slo_id", "slot_start"),
        CheckConstraint("outcome IN ('running', 'ok', 'failed')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"))
    slot_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str] = mapped_column(Text)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(Text)
    good: Mapped[int | None] = mapped_column(BigInteger)
    total: Mapped[int | None] = mapped_column(BigInteger)
    # Value and ratio SLIs: the reading this run collected.
    value: Mapped[float | None] = mapped_column(Float)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
