"""Fixtures: a real Postgres (embedded, or MLSLO_TEST_DATABASE_URL), the real migrations, a
session per test that rolls back, an injected clock, and an app wired to all of them."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import hypothesis
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from app import migrations
from app.auth import service as auth_service
from app.auth.service import Scope
from app.clock import ManualClock
from app.config import Settings
from app.db import EmbeddedPostgres, SessionFactory, normalize_url
from app.main import AppDependencies, create_app

TEST_START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

# In CI the property tests run a fixed set of examples, so a run is repeatable and a slow shared
# machine cannot fail a health check; locally every run explores new examples.
hypothesis.settings.register_profile(
    "ci",
    derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large],
)
if os.environ.get("CI") == "true":
    hypothesis.settings.load_profile("ci")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A URL to a Postgres server on which the tests may create databases."""
    configured = os.environ.get("MLSLO_TEST_DATABASE_URL")
    if configured:
        yield normalize_url(configured)
        return
    # No skip here: without Postgres the suite fails, in CI and elsewhere. The cluster lives
    # outside pytest's private temp dirs: its server runs as another user, who must reach it.
    data_dir = Path(tempfile.mkdtemp(prefix="mlslo-test-pg-"))
    server = EmbeddedPostgres(data_dir / "data")
    try:
        yield server.url("postgres")
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def create_scratch_database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin_engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin_engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> str:
    url = create_scratch_database(postgres_admin_url, "mlslo_test")
    engine = create_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection per test inside a transaction that is rolled back at the end."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> SessionFactory:
    # Commits in the code under test only release savepoints of the outer, rolled-back transaction.
    return sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")


@pytest.fixture
def db_session(session_factory: SessionFactory) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(TEST_START)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=None,
        data_dir=tmp_path / "data",
        slo_definitions_dir=tmp_path / "slo_definitions",
        public_url="http://mlslo.test",
        grafana_url="http://grafana.test",
    )


@pytest.fixture
def app_deps(
    settings: Settings, engine: Engine, session_factory: SessionFactory, clock: ManualClock
) -> AppDependencies:
    return AppDependencies(settings=settings, engine=engine, session_factory=session_factory, clock=clock)


@pytest.fixture
def client(app_deps: AppDependencies) -> Iterator[TestClient]:
    with TestClient(create_app(app_deps)) as test_client:
        yield test_client


def make_key(
    session_factory: SessionFactory, clock: ManualClock, name: str, *scopes: Scope, system: str | None = None
) -> str:
    with session_factory() as session:
        created = auth_service.create_key(
            db_session=session, clock=clock, name=name, scopes=list(scopes), system_name=system
        )
        session.commit()
        return created.secret


@pytest.fixture
def admin_headers(session_factory: SessionFactory, clock: ManualClock) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(session_factory, clock, 'test-admin', Scope.ADMIN)}"}


@pytest.fixture
def read_headers(session_factory: SessionFactory, clock: ManualClock) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(session_factory, clock, 'test-reader', Scope.READ)}"}
