"""ORM models of SLOs as applied from definition files, and of their versions.

One row is one evaluable objective: an SLO with several objectives in its file becomes one row per
objective, named `<slo>.<objective>`, each with its own counts, status and breaches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
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

from app.core.sli_catalog import BudgetingMethod, SliKind, Source
from app.db import Base


def _one_of(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Slo(Base):
    __tablename__ = "slo"
    __table_args__ = (
        UniqueConstraint("system_id", "phase", "name"),
        CheckConstraint("objective > 0 AND objective < 1", name="objective_range"),
        CheckConstraint(_one_of("sli_kind", [kind.value for kind in SliKind]), name="sli_kind"),
        CheckConstraint(_one_of("source", [source.value for source in Source]), name="source"),
        CheckConstraint(
            _one_of("budgeting_method", [method.value for method in BudgetingMethod]), name="budgeting_method"
        ),
        CheckConstraint("owner_side IN ('service', 'model')", name="owner_side"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    objective_name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    sli_kind: Mapped[str] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(Text, server_default="")
    source: Mapped[str] = mapped_column(Text, server_default="push")
    threshold_ms: Mapped[float | None] = mapped_column(Float)
    objective: Mapped[float] = mapped_column(Float)
    objective_op: Mapped[str | None] = mapped_column(Text)
    objective_value: Mapped[float | None] = mapped_column(Float)
    budgeting_method: Mapped[str] = mapped_column(Text, server_default="occurrences")
    time_slice_window: Mapped[timedelta | None] = mapped_column(Interval)
    time_slice_target: Mapped[float | None] = mapped_column(Float)
    period: Mapped[timedelta] = mapped_column(Interval)
    calendar_unit: Mapped[str | None] = mapped_column(Text)
    time_zone: Mapped[str | None] = mapped_column(Text)
    owner_side: Mapped[str] = mapped_column(Text, server_default="service")
    min_events: Mapped[int | None] = mapped_column(Integer)
    page_enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    ticket_enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    max_bad_events: Mapped[int | None] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_path: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SloVersion(Base):
    """Each applied definition of an SLO, from the moment it took effect."""

    __tablename__ = "slo_version"
    __table_args__ = (UniqueConstraint("slo_id", "version"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    objective: Mapped[float] = mapped_column(Float)
    period: Mapped[timedelta] = mapped_column(Interval)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_path: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied_by: Mapped[str] = mapped_column(Text)
