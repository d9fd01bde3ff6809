"""ORM models of systems and their phase history."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Identity, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base


class Phase(enum.StrEnum):
    CONCEPT = "concept"
    TECHNICAL_VALIDATION = "technical_validation"
    PRODUCTION = "production"


PHASE_VALUES = ", ".join(f"'{phase.value}'" for phase in Phase)


class System(Base):
    __tablename__ = "system"
    __table_args__ = (CheckConstraint(f"phase IN ({PHASE_VALUES})", name="phase"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    phase: Mapped[str] = mapped_column(Text)
    service_owner: Mapped[str | None] = mapped_column(Text)
    service_owner_slack_channel: Mapped[str | None] = mapped_column(Text)
    model_owner: Mapped[str | None] = mapped_column(Text)
    model_owner_slack_channel: Mapped[str | None] = mapped_column(Text)
    service_owner_page_channel: Mapped[str | None] = mapped_column(Text)
    model_owner_page_channel: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The minimum ML Test Score each phase's definition file requires (`min_ml_test_score`).
    ml_test_score_minimums: Mapped[dict[str, float]] = mapped_column(JSONB, default=dict, server_default="{}")

    phase_changes: Mapped[list[PhaseChange]] = relationship(
        back_populates="system", lazy="raise", order_by="PhaseChange.id"
    )


class PhaseChange(Base):
    __tablename__ = "phase_change"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), index=True)
    from_phase: Mapped[str | None] = mapped_column(Text)
    to_phase: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    system: Mapped[System] = relationship(back_populates="phase_changes", lazy="raise")
