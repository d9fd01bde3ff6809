"""alert episodes, page channels, silenced notifications

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 14:11:12.150538
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("breach", sa.Column("dedup_key", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "breach", sa.Column("start_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("breach", sa.Column("peak_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column(
        "breach", sa.Column("closing_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("breach", sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("breach", sa.Column("acknowledged_by", sa.Text(), nullable=True))
    op.add_column("breach", sa.Column("acknowledgement_comment", sa.Text(), nullable=True))
    op.add_column("breach", sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notification", sa.Column("silence_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_notification_silence_id_silence"),
        "notification",
        "silence",
        ["silence_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_silence_system_ends_at", "silence", ["system", "ends_at"], unique=False)
    op.add_column("system", sa.Column("service_owner_page_channel", sa.Text(), nullable=True))
    op.add_column("system", sa.Column("model_owner_page_channel", sa.Text(), nullable=True))
    op.create_check_constraint(op.f("ck_silence_comment_not_empty"), "silence", "btrim(comment) <> ''")
    op.create_check_constraint(
        op.f("ck_silence_ends_after_start"), "silence", "ends_at > starts_at OR expired_at IS NOT NULL"
    )
    op.create_check_constraint(
        op.f("ck_freeze_exception_reason_not_empty"), "freeze_exception", "btrim(reason) <> ''"
    )
    op.create_check_constraint(
        op.f("ck_freeze_exception_expires_after_grant"), "freeze_exception", "expires_at > granted_at"
    )
    # Silenced notifications are kept; repeats and dead-letter alerts are events of their own.
    op.drop_constraint(op.f("ck_notification_status"), "notification", type_="check")
    op.create_check_constraint(
        op.f("ck_notification_status"), "notification", "status IN ('pending', 'sent', 'dead', 'silenced')"
    )
    op.drop_constraint(op.f("ck_notification_event"), "notification", type_="check")
    op.create_check_constraint(
        op.f("ck_notification_event"),
        "notification",
        "event IN ('fired', 'escalated', 'repeated', 'resolved', 'dead_letter')",
    )


def downgrade() -> None:
    for table, name in (
        ("freeze_exception", "ck_freeze_exception_expires_after_grant"),
        ("freeze_exception", "ck_freeze_exception_reason_not_empty"),
        ("silence", "ck_silence_ends_after_start"),
        ("silence", "ck_silence_comment_not_empty"),
    ):
        op.drop_constraint(op.f(name), table, type_="check")
    op.execute("DELETE FROM notification WHERE status = 'silenced' OR event IN ('repeated', 'dead_letter')")
    op.drop_constraint(op.f("ck_notification_event"), "notification", type_="check")
    op.create_check_constraint(
        op.f("ck_notification_event"), "notification", "event IN ('fired', 'escalated', 'resolved')"
    )
    op.drop_constraint(op.f("ck_notification_status"), "notification", type_="check")
    op.create_check_constraint(
        op.f("ck_notification_status"), "notification", "status IN ('pending', 'sent', 'dead')"
    )
    op.drop_column("system", "model_owner_page_channel")
    op.drop_column("system", "service_owner_page_channel")
    op.drop_index("ix_silence_system_ends_at", table_name="silence")
    op.drop_constraint(op.f("fk_notification_silence_id_silence"), "notification", type_="foreignkey")
    op.drop_column("notification", "silence_id")
    op.drop_column("breach", "last_notified_at")
    op.drop_column("breach", "acknowledgement_comment")
    op.drop_column("breach", "acknowledged_by")
    op.drop_column("breach", "acknowledged_at")
    op.drop_column("breach", "closing_details")
    op.drop_column("breach", "peak_details")
    op.drop_column("breach", "start_details")
    op.drop_column("breach", "dedup_key")
