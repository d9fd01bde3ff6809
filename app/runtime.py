"""Wires settings into a running service: database, migrations, scheduler, HTTP client, app."""

from __future__ import annotations

import logging
import signal
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app import migrations
from app.clock import Clock, SystemClock
from app.config import Settings
from app.db import (
    SessionFactory,
    create_db_engine,
    create_session_factory,
    embedded_postgres,
    resolve_database_url,
)
from app.jobs import JobContext
from app.main import AppDependencies, create_app
from app.scheduling import build_scheduler

OUTBOUND_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO, and webhook URLs are secrets.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # APScheduler logs every run of every job at INFO; the jobs log what they changed.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    # pgserver logs each pg_ctl command line and its output at INFO; app.db says when it starts.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # pgserver asks platformdirs for a runtime directory, which warns on machines without one.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@dataclass
class Database:
    engine: Engine
    session_factory: SessionFactory


def open_database(settings: Settings, *, migrate: bool = False) -> Database:
    engine = create_db_engine(resolve_database_url(settings))
    if migrate:
        migrations.upgrade(engine)
    return Database(engine=engine, session_factory=create_session_factory(engine))


def run_scheduler(settings: Settings, database: Database, *, clock: Clock | None = None) -> None:
    """Run the scheduled jobs without the API until SIGTERM or SIGINT; several such processes (and
    `mlslo serve` ones) may share a database."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with httpx.Client(timeout=OUTBOUND_TIMEOUT) as http_client:
        scheduler = build_scheduler(
            JobContext(
                settings=settings,
                session_factory=database.session_factory,
                clock=clock or SystemClock(),
                http_client=http_client,
            )
        )
        scheduler.start()
        try:
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)


def build_service(
    settings: Settings,
    database: Database,
    *,
    clock: Clock | None = None,
    with_scheduler: bool = True,
    on_shutdown: Sequence[Callable[[], None]] = (),
) -> FastAPI:
    """The API app; with the scheduler started and stopped alongside it when asked, and `on_shutdown`
    run after it stops."""
    clock = clock or SystemClock()
    deps = AppDependencies(
        settings=settings, engine=database.engine, session_factory=database.session_factory, clock=clock
    )
    if with_scheduler:
        http_client = httpx.Client(timeout=OUTBOUND_TIMEOUT)
        scheduler = build_scheduler(
            JobContext(
                settings=settings,
                session_factory=database.session_factory,
                clock=clock,
                http_client=http_client,
            )
        )
        deps.on_startup.append(scheduler.start)
        deps.on_shutdown.append(lambda: scheduler.shutdown(wait=True))
        deps.on_shutdown.append(http_client.close)
    deps.on_shutdown.extend(on_shutdown)
    return create_app(deps)


def release_database(settings: Settings, database: Database) -> None:
    """Close the connections and, for the embedded Postgres, this process's hold on it: the server
    stops when no other mlslo process uses it. `mlslo serve` does this while shutting down, since
    its server process then ends by the signal that stopped it, before exit handlers could run."""
    database.engine.dispose()
    if settings.database_url is None:
        embedded_postgres(settings.data_dir).stop()
