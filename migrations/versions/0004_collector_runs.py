"""collector runs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 12:42:29.358710
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "collector_run",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("slo_id", sa.Integer(), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("good", sa.BigInteger(), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("outcome IN ('running', 'ok', 'failed')", name=op.f("ck_collector_run_outcome")),
        sa.ForeignKeyConstraint(
            ["slo_id"], ["slo.id"], name=op.f("fk_collector_run_slo_id_slo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collector_run")),
        sa.UniqueConstraint("slo_id", "slot_start", name=op.f("uq_collector_run_slo_id_slot_start")),
    )


def downgrade() -> None:
    op.drop_table("collector_run")
