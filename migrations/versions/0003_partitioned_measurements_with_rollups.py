"""partitioned minute counts with hour and day rollups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:00:00.000000

Minute, hour and day counts are range-partitioned on their time column (monthly partitions, made
by the partition job; a default partition takes whatever arrives before its month exists). Hour and
day rows are kept equal to the sum of their minutes by statement-level triggers on the minute table,
so every write path, late data included, updates every level that covers the minute.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: a migration must not change when the application's constants do.
PARTITION_SCHEMA = "measurement_partition"
LEVELS = (("slo_minute_count", "minute"), ("slo_hour_count", "hour"), ("slo_day_count", "day"))


def _rollup_function_sql() -> str:
    # One body per trigger event: a transition table exists only for the events that have it.
    def upsert(source: str) -> str:
        statements = []
        for table, column in LEVELS[1:]:
            statements.append(
                f"""
        INSERT INTO {table} AS target (slo_id, {column}, good, total)
            SELECT slo_id, date_trunc('{column}', minute, 'UTC'), sum(good), sum(total)
            FROM ({source}) AS change
            GROUP BY 1, 2
            HAVING sum(good) <> 0 OR sum(total) <> 0
            ORDER BY 1, 2
        ON CONFLICT (slo_id, {column}) DO UPDATE
            SET good = target.good + excluded.good, total = target.total + excluded.total;"""
            )
        return "".join(statements)

    def subtract(source: str) -> str:
        # Deletes only lower existing rows: a rollup already removed (by the SLO's cascade) stays gone.
        statements = []
        for table, column in LEVELS[1:]:
            statements.append(
                f"""
        UPDATE {table} AS target SET good = target.good - change.good, total = target.total - change.total
            FROM (
                SELECT slo_id, date_trunc('{column}', minute, 'UTC') AS {column},
                       sum(good) AS good, sum(total) AS total
                FROM ({source}) AS deleted GROUP BY 1, 2 ORDER BY 1, 2
            ) AS change
            WHERE target.slo_id = change.slo_id AND target.{column} = change.{column};"""
            )
        return "".join(statements)

    new_rows = "SELECT slo_id, minute, good, total FROM new_rows"
    old_rows = "SELECT slo_id, minute, good, total FROM old_rows"
    return f"""
CREATE FUNCTION slo_minute_count_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN{upsert(new_rows)}
    ELSIF TG_OP = 'UPDATE' THEN
        -- Old amounts out first: each step leaves a sum of real minutes, which the checks accept.{subtract(old_rows)}{upsert(new_rows)}
    ELSE{subtract(old_rows)}
    END IF;
    RETURN NULL;
END;
$$;
"""


def _create_count_table(table: str, column: str) -> None:
    op.create_table(
        table,
        sa.Column("slo_id", sa.Integer(), nullable=False),
        sa.Column(column, sa.DateTime(timezone=True), nullable=False),
        sa.Column("good", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("good >= 0 AND good <= total", name=op.f(f"ck_{table}_good_within_total")),
        sa.ForeignKeyConstraint(
            ["slo_id"], ["slo.id"], name=op.f(f"fk_{table}_slo_id_slo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("slo_id", column, name=op.f(f"pk_{table}")),
        postgresql_partition_by=f"RANGE ({column})",
    )
    op.execute(f"CREATE TABLE {PARTITION_SCHEMA}.{table}_default PARTITION OF {table} DEFAULT")


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA {PARTITION_SCHEMA}")
    op.execute("ALTER TABLE slo_minute_count RENAME TO slo_minute_count_unpartitioned")
    op.execute(
        "ALTER TABLE slo_minute_count_unpartitioned RENAME CONSTRAINT pk_slo_minute_count "
        "TO pk_slo_minute_count_unpartitioned"
    )
    for table, column in LEVELS:
        _create_count_table(table, column)
    op.execute(_rollup_function_sql())
    for event, transition in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER slo_minute_count_rollup_{event.lower()} AFTER {event} ON slo_minute_count "
            f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION slo_minute_count_rollup()"
        )
    # Existing minutes land in the default partitions; the triggers build their rollups.
    op.execute(
        "INSERT INTO slo_minute_count (slo_id, minute, good, total) "
        "SELECT slo_id, minute, good, total FROM slo_minute_count_unpartitioned ORDER BY slo_id, minute"
    )
    op.drop_table("slo_minute_count_unpartitioned")


def downgrade() -> None:
    op.execute(
        "CREATE TABLE slo_minute_count_flat AS SELECT slo_id, minute, good, total FROM slo_minute_count"
    )
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER slo_minute_count_rollup_{event} ON slo_minute_count")
    op.execute("DROP FUNCTION slo_minute_count_rollup()")
    for table, _ in reversed(LEVELS):
        op.drop_table(table)  # its partitions go with it
    op.execute(f"DROP SCHEMA {PARTITION_SCHEMA} CASCADE")
    op.create_table(
        "slo_minute_count",
        sa.Column("slo_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("good", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("good >= 0 AND good <= total", name=op.f("ck_slo_minute_count_good_within_total")),
        sa.ForeignKeyConstraint(
            ["slo_id"], ["slo.id"], name=op.f("fk_slo_minute_count_slo_id_slo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("slo_id", "minute", name=op.f("pk_slo_minute_count")),
    )
    op.execute("INSERT INTO slo_minute_count SELECT * FROM slo_minute_count_flat")
    op.drop_table("slo_minute_count_flat")
