"""What every benchmark needs: a fresh database on an embedded Postgres (or on the server that
MLSLO_BENCH_DATABASE_URL names), dropped afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.db import EmbeddedPostgres, normalize_url


@contextmanager
def bench_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped (and its embedded server stopped) on exit."""
    temp_dir = None
    server = None
    configured = os.environ.get("MLSLO_BENCH_DATABASE_URL")
    if configured:
        admin_url = normalize_url(configured)
    else:
        temp_dir = Path(tempfile.mkdtemp(prefix="mlslo-bench-"))
        server = EmbeddedPostgres(temp_dir / "data")
        admin_url = server.url("postgres")
    database = f"mlslo_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
        if server is not None:
            server.stop()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
