"""SLO definition language

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 11:28:59.249067
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen copies: a migration must not change when the application's enums do.
SLI_KINDS = (
    "latency",
    "error_rate",
    "job_success",
    "job_throughput",
    "freshness",
    "classification_quality",
    "regression_error",
    "prediction_bias",
    "data_drift",
    "data_quality",
    "robustness",
    "retrain_stability",
    "model_staleness",
)
SOURCES = ("push", "prometheus", "sql", "http_probe", "evidently")
BUDGETING = ("occurrences", "timeslices", "ratio_timeslices")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slo_version",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("slo_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("objective", sa.Float(), nullable=False),
        sa.Column("period", sa.Interval(), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slo_id"], ["slo.id"], name=op.f("fk_slo_version_slo_id_slo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slo_version")),
        sa.UniqueConstraint("slo_id", "version", name=op.f("uq_slo_version_slo_id_version")),
    )
    op.create_index(op.f("ix_slo_version_slo_id"), "slo_version", ["slo_id"], unique=False)
    op.add_column("slo", sa.Column("objective_name", sa.Text(), nullable=True))
    op.add_column("slo", sa.Column("metric", sa.Text(), server_default="", nullable=False))
    op.add_column("slo", sa.Column("source", sa.Text(), server_default="push", nullable=False))
    op.add_column("slo", sa.Column("objective_op", sa.Text(), nullable=True))
    op.add_column("slo", sa.Column("objective_value", sa.Float(), nullable=True))
    op.add_column(
        "slo", sa.Column("budgeting_method", sa.Text(), server_default="occurrences", nullable=False)
    )
    op.add_column("slo", sa.Column("time_slice_window", sa.Interval(), nullable=True))
    op.add_column("slo", sa.Column("time_slice_target", sa.Float(), nullable=True))
    op.add_column("slo", sa.Column("calendar_unit", sa.Text(), nullable=True))
    op.add_column("slo", sa.Column("time_zone", sa.Text(), nullable=True))
    op.add_column("slo", sa.Column("owner_side", sa.Text(), server_default="service", nullable=False))
    op.add_column("slo", sa.Column("page_enabled", sa.Boolean(), server_default="true", nullable=False))
    op.add_column("slo", sa.Column("ticket_enabled", sa.Boolean(), server_default="true", nullable=False))
    op.add_column("slo", sa.Column("max_bad_events", sa.Integer(), nullable=True))
    op.add_column("slo", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.drop_constraint(op.f("ck_slo_sli_kind"), "slo", type_="check")
    op.create_check_constraint(op.f("ck_slo_sli_kind"), "slo", f"sli_kind IN ({_quoted(SLI_KINDS)})")
    op.create_check_constraint(op.f("ck_slo_source"), "slo", f"source IN ({_quoted(SOURCES)})")
    op.create_check_constraint(
        op.f("ck_slo_budgeting_method"), "slo", f"budgeting_method IN ({_quoted(BUDGETING)})"
    )
    op.create_check_constraint(op.f("ck_slo_owner_side"), "slo", "owner_side IN ('service', 'model')")
    op.alter_column("slo_status", "error_budget_remaining", existing_type=sa.Float(), nullable=True)
    # Every existing SLO starts its history at version 1, effective from its creation.
    op.execute(
        "INSERT INTO slo_version (slo_id, version, objective, period, definition, source_path, effective_from, applied_by) "
        "SELECT id, 1, objective, period, definition, source_path, created_at, 'migration 0002' FROM slo"
    )


def downgrade() -> None:
    op.execute("DELETE FROM slo_status WHERE error_budget_remaining IS NULL")
    op.alter_column("slo_status", "error_budget_remaining", existing_type=sa.Float(), nullable=False)
    op.drop_constraint(op.f("ck_slo_owner_side"), "slo", type_="check")
    op.drop_constraint(op.f("ck_slo_budgeting_method"), "slo", type_="check")
    op.drop_constraint(op.f("ck_slo_source"), "slo", type_="check")
    op.drop_constraint(op.f("ck_slo_sli_kind"), "slo", type_="check")
    # SLOs of kinds the first schema did not know cannot go back.
    op.execute("DELETE FROM slo WHERE sli_kind NOT IN ('latency', 'error_rate')")
    op.create_check_constraint(op.f("ck_slo_sli_kind"), "slo", "sli_kind IN ('latency', 'error_rate')")
    op.drop_column("slo", "version")
    op.drop_column("slo", "max_bad_events")
    op.drop_column("slo", "ticket_enabled")
    op.drop_column("slo", "page_enabled")
    op.drop_column("slo", "owner_side")
    op.drop_column("slo", "time_zone")
    op.drop_column("slo", "calendar_unit")
    op.drop_column("slo", "time_slice_target")
    op.drop_column("slo", "time_slice_window")
    op.drop_column("slo", "budgeting_method")
    op.drop_column("slo", "objective_value")
    op.drop_column("slo", "objective_op")
    op.drop_column("slo", "source")
    op.drop_column("slo", "metric")
    op.drop_column("slo", "objective_name")
    op.drop_index(op.f("ix_slo_version_slo_id"), table_name="slo_version")
    op.drop_table("slo_version")
