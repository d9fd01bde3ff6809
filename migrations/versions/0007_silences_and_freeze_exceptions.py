"""silences and freeze exceptions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 14:09:11.216335
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "silence",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("slo", sa.Text(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "severity IS NULL OR severity IN ('page', 'ticket')", name=op.f("ck_silence_severity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silence")),
    )
    op.create_table(
        "freeze_exception",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('p0', 'security')", name=op.f("ck_freeze_exception_kind")),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["system.id"],
            name=op.f("fk_freeze_exception_system_id_system"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freeze_exception")),
    )
    op.create_index(op.f("ix_freeze_exception_system_id"), "freeze_exception", ["system_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_freeze_exception_system_id"), table_name="freeze_exception")
    op.drop_table("freeze_exception")
    op.drop_table("silence")
