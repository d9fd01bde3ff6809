"""Counting good and total events with a query against a system's own database.

The connection URL is a secret: it is read from the environment variable the definition names,
registered with `app.redaction`, and kept out of every error message (messages are built from the
exception type and the database's own error text, with the URL and password removed).

Safety: the query runs in a **read-only transaction** with a **statement timeout**, and is sent
on its own with the extended query protocol (as a prepared statement), so it can hold only one
statement: it cannot end the read-only transaction (`COMMIT; INSERT ...`) or change the timeout
for a later statement. A snapshot is taken before it runs, so it cannot switch the transaction
back to read-write either. Giving the URL a role that can only read is still recommended (a
read-only transaction does not stop, say, `dblink` to another connection).

Only PostgreSQL through psycopg 3 (`postgresql://` or `postgresql+psycopg://`) is supported for
now: for other dialects the read-only transaction, the timeout and the one-statement guarantee
would each need their own mechanism (MySQL: `SET TRANSACTION READ ONLY` and
`max_execution_time`; SQLite: `PRAGMA query_only` and a progress handler), so they are refused
rather than run without those guarantees.

Each collection uses one new connection (`NullPool`) that is closed afterwards: collections are
minutes apart, and no connection to a monitored database is held between them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.collectors.results import Collected, CollectionError, timeout_seconds
from app.db import normalize_url
from app.redaction import REDACTED, register_secret

DEFAULT_TIMEOUT_SECONDS = 10.0
_MESSAGE_LIMIT = 500
_QUERY_CANCELED = "57014"


def query_counts(*, config: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Collected:
    """Run `config["query"]` (the definition's `sli.sql` block) on the database whose URL is in
    the environment variable `config["connection_env"]`; it must return one row with integer
    columns `good` and `total`, 0 <= good <= total. Raises CollectionError otherwise."""
    env_name = config.get("connection_env")
    if not isinstance(env_name, str) or not env_name:
        raise CollectionError("sql.connection_env is not set")
    raw_url = environ.get(env_name)
    if not raw_url:
        raise CollectionError(f"environment variable {env_name} is not set")
    register_secret(raw_url)
    secrets = [raw_url]
    query = config.get("query")
    if not isinstance(query, str) or not query.strip():
        raise CollectionError("sql.query is not set")
    timeout = timeout_seconds(config.get("timeout"), default=DEFAULT_TIMEOUT_SECONDS)

    url = _parse_url(raw_url, env_name)
    if url.password:
        password = str(url.password)
        register_secret(password)
        secrets.append(password)
    rendered = url.render_as_string(hide_password=False)
    register_secret(rendered)
    secrets.append(rendered)
    if url.get_backend_name() != "postgresql" or url.get_driver_name() != "psycopg":
        raise CollectionError(
            f"the sql source supports PostgreSQL through psycopg only "
            f"(postgresql:// URLs), not {url.drivername!r}"
        )

    try:
        row, columns = _run(url, query, timeout)
    except CollectionError:
        raise
    except (DBAPIError, psycopg.Error) as exc:
        raise CollectionError(_describe(exc, timeout, secrets)) from None
    except SQLAlchemyError as exc:
        raise CollectionError(_redact(f"{type(exc).__name__}: {exc}", secrets)) from None
    return _counts(row, columns)


def _parse_url(raw_url: str, env_name: str) -> URL:
    try:
        return make_url(normalize_url(raw_url))
    except (ArgumentError, ValueError):
        raise CollectionError(f"environment variable {env_name} does not hold a valid database URL") from None


def _run(url: URL, query: str, timeout: float) -> tuple[Sequence[Any] | None, list[str]]:
    """The query's only row (None if none) and its column names."""
    engine = create_engine(
        url,
        poolclass=NullPool,
        # libpq's connect_timeout is whole seconds, at least 2.
        connect_args={"connect_timeout": max(2, math.ceil(timeout))},
    )
    try:
        with engine.connect() as connection:
            driver_connection = connection.connection.driver_connection
            if not isinstance(driver_connection, psycopg.Connection):
                raise CollectionError("the sql source needs the psycopg driver")
            try:
                with driver_connection.cursor() as cursor:
                    # Must come first in the transaction (psycopg has just begun it).
                    cursor.execute("SET TRANSACTION READ ONLY")
                    cursor.execute(f"SET LOCAL statement_timeout = {max(1, round(timeout * 1000))}")
                    # Takes the transaction's first snapshot: from now on it cannot become read-write.
                    cursor.execute("SELECT 1")
                    # prepare=True: extended protocol, so exactly one statement; and with no
                    # parameters, `%` and `:` in the query are left alone.
                    cursor.execute(query, prepare=True)
                    if cursor.description is None:
                        raise CollectionError("the query returned no result set; it must be a SELECT")
                    columns = [column.name for column in cursor.description]
                    rows = cursor.fetchmany(2)
            finally:
                driver_connection.rollback()
    finally:
        engine.dispose()
    if len(rows) > 1:
        raise CollectionError("the query returned more than one row; it must return exactly one")
    return (rows[0] if rows else None), columns


def _counts(row: Sequence[Any] | None, columns: list[str]) -> Collected:
    lowered = [column.lower() for column in columns]
    missing = [name for name in ("good", "total") if name not in lowered]
    if missing:
        raise CollectionError(
            f"the query must return columns good and total; it returned: {', '.join(columns) or 'none'}"
        )
    if lowered.count("good") > 1 or lowered.count("total") > 1:
        raise CollectionError("the query returned more than one column named good or total")
    if row is None:
        raise CollectionError("the query returned no rows; it must return exactly one")
    good = _count(row[lowered.index("good")], "good")
    total = _count(row[lowered.index("total")], "total")
    if good > total:
        raise CollectionError(f"the query returned good={good} greater than total={total}")
    return Collected(good=good, total=total)


def _count(value: object, name: str) -> int:
    if value is None:
        raise CollectionError(f"the query returned NULL for {name}; use COALESCE({name}, 0)")
    if isinstance(value, bool):
        raise CollectionError(f"the query returned a boolean for {name}; expected a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, Decimal | float) and math.isfinite(value) and value == int(value):
        number = int(value)
    else:
        raise CollectionError(f"the query returned {name}={value!r}; expected a whole number")
    if number < 0:
        raise CollectionError(f"the query returned a negative {name} ({number})")
    return number


def _describe(exc: DBAPIError | psycopg.Error, timeout: float, secrets: Iterable[str]) -> str:
    # DBAPIError's own text includes the SQL and parameters; the driver's error is the database's.
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(original, psycopg.Error) and original.sqlstate == _QUERY_CANCELED:
        return f"the query was cancelled after the {timeout * 1000:.0f}ms statement timeout"
    text = " ".join(str(original).split())
    return _redact(f"{type(original).__name__}: {text}", secrets)


def _redact(message: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            message = message.replace(secret, REDACTED)
    return message[:_MESSAGE_LIMIT]
