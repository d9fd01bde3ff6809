"""ORM models of postmortems and their links to breaches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Identity, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

postmortem_breach = Table(
    "postmortem_breach",
    Base.metadata,
    Column("postmortem_id", ForeignKey("postmortem.id", ondelete="CASCADE"), primary_key=True),
    Column("breach_id", ForeignKey("breach.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class Postmortem(Base):
    __tablename__ = "postmortem"
    __table_args__ = (CheckConstraint("status IN ('draft', 'in_review', 'published')", name="status"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(ARRAY(Text))
    summary: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    root_causes: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(Text, default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    detection: Mapped[str] = mapped_column(Text, default="")
    action_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    lessons_learned: Mapped[dict[str, Any]] = mapped_column(JSONB)
    timeline: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
