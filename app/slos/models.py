"""ORM model of an SLO as applied from a definition file."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Integer,
    Interval,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Slo(Base):
    __tablename__ = "slo"
    __table_args__ = (
        UniqueConstraint("system_id", "phase", "name"),
        CheckConstraint("objective > 0 AND objective < 1", name="objective_range"),
        CheckConstraint("sli_kind IN ('latency', 'error_rate')", name="sli_kind"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    sli_kind: Mapped[str] = mapped_column(Text)
    threshold_ms: Mapped[float | None] = mapped_column(Float)
    objective: Mapped[float] = mapped_column(Float)
    period: Mapped[timedelta] = mapped_column(Interval)
    min_events: Mapped[int | None] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
