"""Database plumbing: declarative base with naming conventions, engines, sessions, embedded Postgres."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app.config import Settings

logger = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


SessionFactory = sessionmaker[Session]

# Primary keys are Postgres `integer`s.
MAX_DATABASE_ID = 2**31 - 1

EMBEDDED_DATABASE_NAME = "mlslo"
STARTUP_ATTEMPTS = 3


class EmbeddedPostgres:
    """A Postgres cluster in a local data directory, kept across restarts (pgserver runs it as an
    unprivileged user, so it also works when the service runs as root)."""

    def __init__(self, data_dir: Path) -> None:
        import pgserver

        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._server: Any = None
        # pg_ctl waits 10 s for the first start; a busy machine can take longer, so try again.
        for attempt in range(1, STARTUP_ATTEMPTS + 1):
            try:
                self._server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
                break
            except Exception:
                if attempt == STARTUP_ATTEMPTS:
                    raise
                logger.warning("embedded Postgres did not start (attempt %d); retrying", attempt)
                time.sleep(1)

    def url(self, database: str = EMBEDDED_DATABASE_NAME) -> str:
        self.ensure_database(database)
        base = make_url(self._server.get_uri(database))
        return base.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)

    def ensure_database(self, database: str) -> None:
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{database}";')

    def stop(self) -> None:
        self._server.cleanup()

    def drop_database(self, database: str) -> None:
        self._server.psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE);')


_embedded: dict[Path, EmbeddedPostgres] = {}


def embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    key = data_dir.resolve()
    if key not in _embedded:
        logger.info("starting embedded Postgres in %s", key / "postgres")
        _embedded[key] = EmbeddedPostgres(key / "postgres")
    return _embedded[key]


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded cluster's when none is configured."""
    if settings.database_url is not None:
        return normalize_url(settings.database_url.get_secret_value())
    return embedded_postgres(settings.data_dir).url()


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    return create_engine(url, pool_pre_ping=True, **kwargs)


def create_session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(session_factory: SessionFactory) -> Iterator[Session]:
    """One unit of work: commit at the end, roll back on error."""
    with session_factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def database_is_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
