"""Counting good and total events, reading a value, or reading a dataset's rows, with a query against
a system's own database.

The connection URL is a secret: it is read from the environment variable the definition names,
registered with `app.redaction`, and kept out of every error message (messages are built from the
exception type and the database's own error text, with the URL and password removed).

Safety: the query runs in a **read-only transaction** with a **statement timeout**, and is sent
on its own with the extended query protocol (as a prepared statement), so it can hold only one
statement: it cannot end the read-only transaction (`COMMIT; INSERT ...`) or change the timeout
for a later statement. A snapshot is taken before it runs, so it cannot switch the transaction
back to read-write either. Giving the URL a role that can only read is still recommended (a
read-only transaction does not stop, say, `dblink` to another connection).

Two databases are supported, each with its own mechanism for the three guarantees:
- **PostgreSQL** through psycopg 3 (`postgresql://` or `postgresql+psycopg://`): as above.
- **SQLite** (`sqlite:///path/to/file.db`): the file is opened read-only (`mode=ro`) with
  `PRAGMA query_only`, the query is interrupted when the timeout passes, and sqlite3 refuses more
  than one statement per call.
Other dialects (MySQL, ...) are refused rather than run without those guarantees.

Each collection uses one new connection (`NullPool`) that is closed afterwards: collections are
minutes apart, and no connection to a monitored database is held between them.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.collectors.results import Collected, CollectionError, Reading, timeout_seconds
from app.db import normalize_url
from app.redaction import REDACTED, register_secret

DEFAULT_TIMEOUT_SECONDS = 10.0
_MESSAGE_LIMIT = 500
_QUERY_CANCELED = "57014"


def query_counts(*, config: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Collected:
    """Run `config["query"]` (the definition's `sli.sql` block) on the database whose URL is in
    the environment variable `config["connection_env"]`; it must return one row with integer
    columns `good` and `total`, 0 <= good <= total. Raises CollectionError otherwise."""
    row, columns = _query_one_row(config, environ)
    return _counts(row, columns)


def query_value(*, config: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Reading:
    """Like `query_counts`, for value SLIs: one row with a finite number in a column `value`."""
    row, columns = _query_one_row(config, environ)
    return _value(row, columns)


def query_rows(
    *, config: Mapping[str, Any], environ: Mapping[str, str] = os.environ, max_rows: int
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of `config["query"]` (a dataset read from a system's database),
    with the same read-only transaction, timeout (`config["timeout"]`, default 10s) and redaction
    as `query_counts`. More than `max_rows` rows is a CollectionError rather than a silent cut, so
    a dataset is never scored on an arbitrary subset; write a LIMIT (or a sample) in the query.

    On PostgreSQL the whole result reaches the client before rows are counted, so `max_rows`
    bounds what is kept, not what is transferred; the statement timeout bounds the rest."""
    if max_rows < 0:
        raise ValueError("max_rows must not be negative")
    rows, columns = _query(config, environ, fetch_limit=max_rows + 1)
    if len(rows) > max_rows:
        raise CollectionError(f"the query returned more than {max_rows} rows")
    return columns, [tuple(row) for row in rows]


def _query_one_row(
    config: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[Sequence[Any] | None, list[str]]:
    # Two rows are enough to tell "exactly one" from "more than one".
    rows, columns = _query(config, environ, fetch_limit=2)
    return _only_row(rows), columns


def _query(
    config: Mapping[str, Any], environ: Mapping[str, str], *, fetch_limit: int
) -> tuple[Sequence[Sequence[Any]], list[str]]:
    """At most `fetch_limit` rows of the query and its column names, with the guarantees above."""
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
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _run_sqlite(url, query, timeout, secrets, fetch_limit)
    if backend != "postgresql" or url.get_driver_name() != "psycopg":
        raise CollectionError(
            f"the sql source supports PostgreSQL through psycopg (postgresql:// URLs) and SQLite "
            f"(sqlite:/// URLs), not {url.drivername!r}"
        )
    try:
        return _run(url, query, timeout, fetch_limit)
    except CollectionError:
        raise
    except (DBAPIError, psycopg.Error) as exc:
        raise CollectionError(_describe(exc, timeout, secrets)) from None
    except SQLAlchemyError as exc:
        raise CollectionError(_redact(f"{type(exc).__name__}: {exc}", secrets)) from None


def _parse_url(raw_url: str, env_name: str) -> URL:
    try:
        return make_url(normalize_url(raw_url))
    except (ArgumentError, ValueError):
        raise CollectionError(f"environment variable {env_name} does not hold a valid database URL") from None


def _run(url: URL, query: str, timeout: float, fetch_limit: int) -> tuple[Sequence[Sequence[Any]], list[str]]:
    """The query's first `fetch_limit` rows and its column names."""
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
                    rows = cursor.fetchmany(fetch_limit)
            finally:
                driver_connection.rollback()
    finally:
        engine.dispose()
    return rows, columns


def _run_sqlite(
    url: URL, query: str, timeout: float, secrets: Iterable[str], fetch_limit: int
) -> tuple[Sequence[Sequence[Any]], list[str]]:
    """The query's first `fetch_limit` rows and its column names, from a SQLite file opened read-only."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise CollectionError("a sqlite URL must name a database file: sqlite:///path/to/file.db")
    location = "file:" + urllib.parse.quote(os.path.abspath(database)) + "?mode=ro"
    try:
        connection = sqlite3.connect(location, uri=True, timeout=timeout, check_same_thread=False)
    except sqlite3.Error as exc:
        raise CollectionError(_redact(f"cannot open the SQLite database: {exc}", secrets)) from None
    # interrupt() from another thread stops the running statement with "interrupted".
    watchdog = threading.Timer(timeout, connection.interrupt)
    try:
        connection.execute("PRAGMA query_only = ON")
        watchdog.start()
        # One statement per execute(): sqlite3 refuses a second one.
        cursor = connection.execute(query)
        if cursor.description is None:
            raise CollectionError("the query returned no result set; it must be a SELECT")
        columns = [str(column[0]) for column in cursor.description]
        rows = cursor.fetchmany(fetch_limit)
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise CollectionError(
                f"the query was cancelled after the {timeout * 1000:.0f}ms timeout"
            ) from None
        raise CollectionError(_redact(f"{type(exc).__name__}: {exc}", secrets)) from None
    except sqlite3.Error as exc:
        raise CollectionError(_redact(f"{type(exc).__name__}: {exc}", secrets)) from None
    finally:
        watchdog.cancel()
        connection.close()
    return rows, columns


def _only_row(rows: Sequence[Sequence[Any]]) -> Sequence[Any] | None:
    if len(rows) > 1:
        raise CollectionError("the query returned more than one row; it must return exactly one")
    return rows[0] if rows else None


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


def _value(row: Sequence[Any] | None, columns: list[str]) -> Reading:
    lowered = [column.lower() for column in columns]
    if lowered.count("value") != 1:
        raise CollectionError(
            f"the query must return one column named value; it returned: {', '.join(columns) or 'none'}"
        )
    if row is None:
        raise CollectionError("the query returned no rows; it must return exactly one")
    value = row[lowered.index("value")]
    if value is None:
        raise CollectionError("the query returned NULL for value: no data")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise CollectionError(f"the query returned value={value!r}; expected a number")
    number = float(value)
    if not math.isfinite(number):
        raise CollectionError(f"the query returned value={value}; expected a finite number")
    return Reading(number)


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
