"""ORM models of SLI counts: per minute, and the hour and day rollups kept equal to their minutes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

# Monthly partitions and the default partitions live here, out of the application's schema.
PARTITION_SCHEMA = "measurement_partition"


class SloMinuteCount(Base):
    """Good and total events of one SLO in one minute, keyed by the minute's start (UTC).

    Written by ingestion; database triggers fold every change into the hour and day rollups."""

    __tablename__ = "slo_minute_count"
    __table_args__ = (
        CheckConstraint("good >= 0 AND good <= total", name="good_within_total"),
        {"postgresql_partition_by": "RANGE (minute)"},
    )

    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    good: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)


class SloHourCount(Base):
    """The sum of one SLO's minutes in one UTC hour (maintained by triggers; read-only here)."""

    __tablename__ = "slo_hour_count"
    __table_args__ = (
        CheckConstraint("good >= 0 AND good <= total", name="good_within_total"),
        {"postgresql_partition_by": "RANGE (hour)"},
    )

    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    good: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)


class SloDayCount(Base):
    """The sum of one SLO's minutes in one UTC day (maintained by triggers; read-only here)."""

    __tablename__ = "slo_day_count"
    __table_args__ = (
        CheckConstraint("good >= 0 AND good <= total", name="good_within_total"),
        {"postgresql_partition_by": "RANGE (day)"},
    )

    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    good: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)


class SliSample(Base):
    """One collected reading of a value SLI (an age, a drift share, a score) or of a ratio SLI (the
    good ratio of one collection window), at the time it describes.

    `value` is NULL for a failed collection that the SLO counts as bad (`missing_data.count_as:
    bad`); a failed collection counted as a gap stores nothing. `model_version` is '' when the SLI
    is not about one model version."""

    __tablename__ = "sli_sample"

    slo_id: Mapped[int] = mapped_column(ForeignKey("slo.id", ondelete="CASCADE"), primary_key=True)
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    model_version: Mapped[str] = mapped_column(Text, primary_key=True, server_default="")
    value: Mapped[float | None] = mapped_column(Float)
    data_version: Mapped[str | None] = mapped_column(Text)
    sample_size: Mapped[int | None] = mapped_column(BigInteger)
