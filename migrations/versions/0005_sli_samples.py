"""sli samples: collected readings of value and ratio SLIs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 13:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sli_sample",
        sa.Column("slo_id", sa.Integer(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.Text(), server_default="", nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("data_version", sa.Text(), nullable=True),
        sa.Column("sample_size", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["slo_id"], ["slo.id"], name=op.f("fk_sli_sample_slo_id_slo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("slo_id", "measured_at", "model_version", name=op.f("pk_sli_sample")),
    )
    op.add_column("collector_run", sa.Column("value", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("collector_run", "value")
    op.drop_table("sli_sample")
