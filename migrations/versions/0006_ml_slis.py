"""ml slis: predictions with late labels, label problems, model versions, drift references and scores

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 13:45:25.093423
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "label_problem",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("kept_label", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "problem IN ('duplicate', 'unknown_prediction')", name=op.f("ck_label_problem_problem")
        ),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_label_problem_system_id_system"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_problem")),
    )
    op.create_index(op.f("ix_label_problem_system_id"), "label_problem", ["system_id"], unique=False)
    op.create_table(
        "model_version",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_version", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("metrics", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("evaluation_set", sa.Text(), nullable=True),
        sa.Column("evaluation_predictions", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("evaluation_labels", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("serving_since", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("outcome IN ('succeeded', 'failed')", name=op.f("ck_model_version_outcome")),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_model_version_system_id_system"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_version")),
        sa.UniqueConstraint("system_id", "version", name=op.f("uq_model_version_system_id_version")),
    )
    op.create_table(
        "prediction",
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.Text(), nullable=False),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("data_version", sa.Text(), nullable=True),
        sa.Column("predicted_label", sa.Text(), nullable=True),
        sa.Column("predicted_value", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("probabilities", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("features", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("label_value", sa.Float(), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "predicted_label IS NOT NULL OR predicted_value IS NOT NULL",
            name=op.f("ck_prediction_has_a_prediction"),
        ),
        sa.ForeignKeyConstraint(
            ["system_id"], ["system.id"], name=op.f("fk_prediction_system_id_system"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("system_id", "prediction_id", name=op.f("pk_prediction")),
    )
    op.create_index("ix_prediction_system_time", "prediction", ["system_id", "predicted_at"], unique=False)
    op.create_table(
        "drift_score",
        sa.Column("slo_id", sa.Integer(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("drift_when", sa.Text(), nullable=False),
        sa.Column("current_rows", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slo_id"], ["slo.id"], name=op.f("fk_drift_score_slo_id_slo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "slo_id", "measured_at", "model_version", "column_name", name=op.f("pk_drift_score")
        ),
    )
    op.create_table(
        "reference_profile",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("slo_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference_rows", sa.BigInteger(), nullable=False),
        sa.Column("columns", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("profile", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slo_id"], ["slo.id"], name=op.f("fk_reference_profile_slo_id_slo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_profile")),
        sa.UniqueConstraint(
            "slo_id", "model_version", name=op.f("uq_reference_profile_slo_id_model_version")
        ),
    )
    op.add_column(
        "system",
        sa.Column(
            "ml_test_score_minimums",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("system", "ml_test_score_minimums")
    op.drop_table("reference_profile")
    op.drop_table("drift_score")
    op.drop_index("ix_prediction_system_time", table_name="prediction")
    op.drop_table("prediction")
    op.drop_table("model_version")
    op.drop_index(op.f("ix_label_problem_system_id"), table_name="label_problem")
    op.drop_table("label_problem")
