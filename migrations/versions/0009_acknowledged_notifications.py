"""acknowledged notifications

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 14:35:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_ACKNOWLEDGED = "event IN ('fired', 'escalated', 'repeated', 'acknowledged', 'resolved', 'dead_letter')"
WITHOUT = "event IN ('fired', 'escalated', 'repeated', 'resolved', 'dead_letter')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_notification_event"), "notification", type_="check")
    op.create_check_constraint(op.f("ck_notification_event"), "notification", WITH_ACKNOWLEDGED)


def downgrade() -> None:
    op.execute("DELETE FROM notification WHERE event = 'acknowledged'")
    op.drop_constraint(op.f("ck_notification_event"), "notification", type_="check")
    op.create_check_constraint(op.f("ck_notification_event"), "notification", WITHOUT)
