"""Alembic environment: runs migrations on a connection handed in by the caller, or on the
configured database."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.db import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def run_on_connection(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on_connection(connection)
        return
    from app.config import get_settings
    from app.db import create_db_engine, resolve_database_url

    engine = create_db_engine(resolve_database_url(get_settings()))
    with engine.connect() as new_connection:
        run_on_connection(new_connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `mlslo db upgrade` against a database")
run_migrations_online()
