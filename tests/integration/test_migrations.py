"""The real migrations: upgrade, downgrade to nothing, upgrade again; and the models match them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import app.models  # noqa: F401
from app import migrations
from app.db import Base
from tests.conftest import create_scratch_database


def test_upgrade_downgrade_upgrade(postgres_admin_url: str) -> None:
    engine = create_engine(create_scratch_database(postgres_admin_url, "mlslo_migrations"))
    try:
        migrations.upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"system", "slo", "slo_minute_count", "breach", "notification", "postmortem"} <= tables

        migrations.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        migrations.upgrade(engine)
        assert set(inspect(engine).get_table_names()) == tables
    finally:
        engine.dispose()


def test_models_match_the_migrations(engine: object) -> None:
    from sqlalchemy.engine import Engine

    assert isinstance(engine, Engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
