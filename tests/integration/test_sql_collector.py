"""The SQL collector against a real Postgres: a scratch database of job results, a role with a
password, and the guarantees: read-only, a statement timeout, and no URL or password in errors."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.collectors.results import Collected, CollectionError, Reading
from app.collectors.sql import query_counts, query_value
from tests.conftest import create_scratch_database

PASSWORD = "s3cret-pw"
ENV = "MLSLO_TEST_SOURCE_URL"
COUNTS = "SELECT count(*) FILTER (WHERE status LIKE 'succ%') AS good, count(*) AS total FROM job_results"


@dataclass(frozen=True)
class Source:
    owner_url: str  # the admin role, which may write: refusals come from the read-only transaction
    reader_url: str  # a role with a password that may only read

    def job_count(self) -> int:
        engine = create_engine(self.owner_url)
        try:
            with engine.connect() as connection:
                return int(connection.execute(text("SELECT count(*) FROM job_results")).scalar_one())
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def source(postgres_admin_url: str) -> Iterator[Source]:
    owner_url = create_scratch_database(postgres_admin_url, "mlslo_sqlsrc")
    database = make_url(owner_url).database
    role = f"mlslo_src_reader_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    owner = create_engine(owner_url)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'"))
        with owner.begin() as connection:
            connection.execute(
                text("CREATE TABLE job_results (id serial PRIMARY KEY, status text NOT NULL, note text)")
            )
            connection.execute(
                text("INSERT INTO job_results (status, note) VALUES (:status, :note)"),
                [{"status": "succeeded", "note": "a:b"}] * 7 + [{"status": "failed", "note": "x:y"}] * 3,
            )
            connection.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO {role}'))
            connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
            connection.execute(text(f"GRANT SELECT ON job_results TO {role}"))
        reader_url = (
            make_url(owner_url)
            .set(drivername="postgresql", username=role, password=PASSWORD)
            .render_as_string(hide_password=False)
        )
        yield Source(owner_url=owner_url, reader_url=reader_url)
    finally:
        owner.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def _collect(url: str, query: str, **config: Any) -> Collected:
    return query_counts(config={"connection_env": ENV, "query": query, **config}, environ={ENV: url})


def _error(url: str, query: str, **config: Any) -> str:
    with pytest.raises(CollectionError) as caught:
        _collect(url, query, **config)
    message = str(caught.value)
    assert PASSWORD not in message
    assert url not in message
    return message


def test_counts_good_and_total(source: Source) -> None:
    assert _collect(source.reader_url, COUNTS) == Collected(good=7, total=10)


def test_percent_and_colons_in_the_query_are_left_alone(source: Source) -> None:
    query = "SELECT sum((status = 'succeeded')::int) AS good, count(*) AS total FROM job_results WHERE note <> 'a:b'"
    assert _collect(source.reader_url, query) == Collected(good=0, total=3)


def test_numeric_whole_numbers_and_column_case_are_accepted(source: Source) -> None:
    assert _collect(source.reader_url, 'SELECT 3::numeric AS "Good", 4.0::numeric AS total') == Collected(
        3, 4
    )


def test_writes_are_refused_by_the_read_only_transaction(source: Source) -> None:
    write = (
        "WITH added AS (INSERT INTO job_results (status) VALUES ('succeeded') RETURNING 1) "
        "SELECT count(*) AS good, count(*) AS total FROM added"
    )
    assert "read-only transaction" in _error(source.owner_url, write)
    assert "read-only transaction" in _error(source.owner_url, "DELETE FROM job_results RETURNING 0 AS good")
    assert source.job_count() == 10


@pytest.mark.parametrize(
    "query",
    [
        "COMMIT; INSERT INTO job_results (status) VALUES ('x'); SELECT 1 AS good, 1 AS total",
        "SET TRANSACTION READ WRITE; INSERT INTO job_results (status) VALUES ('x'); SELECT 1 AS good, 1 AS total",
        "SELECT 1 AS good, 1 AS total; INSERT INTO job_results (status) VALUES ('x')",
    ],
)
def test_a_query_cannot_escape_the_read_only_transaction(source: Source, query: str) -> None:
    assert "multiple commands" in _error(source.owner_url, query)
    assert source.job_count() == 10


def test_the_transaction_cannot_be_switched_to_read_write(source: Source) -> None:
    query = "SELECT set_config('transaction_read_only', 'off', true) AS good, 1 AS total"
    assert "read-write" in _error(source.owner_url, query)


def test_slow_query_is_cut_off_by_the_statement_timeout(source: Source) -> None:
    started = time.perf_counter()
    message = _error(source.reader_url, "SELECT pg_sleep(2), 1 AS good, 1 AS total", timeout="200ms")
    assert time.perf_counter() - started < 1.5
    assert "200ms statement timeout" in message
    # The next collection is unaffected.
    assert _collect(source.reader_url, COUNTS, timeout="1s") == Collected(good=7, total=10)


def test_missing_environment_variable(source: Source) -> None:
    with pytest.raises(CollectionError, match=f"^environment variable {ENV} is not set$"):
        query_counts(config={"connection_env": ENV, "query": COUNTS}, environ={})


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "SELECT 1 AS ok, 2 AS everything",
            "must return columns good and total; it returned: ok, everything",
        ),
        ("SELECT 1 AS good", "must return columns good and total; it returned: good"),
        ("SELECT 1 AS good, 2 AS total WHERE false", "no rows"),
        ("SELECT 1 AS good, 2 AS total FROM generate_series(1, 2)", "more than one row"),
        ("SELECT 3 AS good, 2 AS total", "good=3 greater than total=2"),
        ("SELECT NULL::int AS good, 2 AS total", "NULL for good"),
        ("SELECT -1 AS good, 2 AS total", "negative good"),
        ("SELECT 1.5 AS good, 2 AS total", "good=Decimal('1.5')"),
        ("SELECT 'many' AS good, 2 AS total", "expected a whole number"),
        ("SELECT 1 AS good, 2 AS total, 3 AS total", "more than one column"),
        ("SELEKT 1", "SyntaxError"),
        ("SELECT good, total FROM no_such_table", "no_such_table"),
        ("SELECT count(*) AS good, count(*) AS total FROM pg_authid", "permission denied"),
    ],
)
def test_unusable_results_are_collection_errors(source: Source, query: str, message: str) -> None:
    assert message in _error(source.reader_url, query)


def test_connection_failures_never_show_the_url_or_password(source: Source) -> None:
    missing_database = make_url(source.reader_url).set(database="no_such_database_here")
    url = missing_database.render_as_string(hide_password=False)
    message = _error(url, COUNTS)
    assert "OperationalError" in message
    assert "no_such_database_here" in message


def test_the_url_is_redacted_even_when_the_database_quotes_it(source: Source) -> None:
    quoted = f'SELECT count(*) AS good, count(*) AS total FROM "{source.reader_url}"'
    message = _error(source.reader_url, quoted)
    assert "[redacted]" in message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql+pymysql://u:s3cret-pw@localhost/db", "supports PostgreSQL through psycopg"),
        ("postgresql+psycopg2://u:s3cret-pw@localhost/db", "supports PostgreSQL through psycopg"),
        ("sqlite:///:memory:", "must name a database file"),
        ("not a url s3cret-pw", f"environment variable {ENV} does not hold a valid database URL"),
    ],
)
def test_unsupported_or_invalid_urls(url: str, message: str) -> None:
    assert message in _error(url, COUNTS)


def _read_value(url: str, query: str, **config: Any) -> Reading:
    return query_value(config={"connection_env": ENV, "query": query, **config}, environ={ENV: url})


def test_a_value_query_gives_its_number(source: Source) -> None:
    share = "SELECT avg((status = 'failed')::int)::float8 AS value FROM job_results"
    assert _read_value(source.reader_url, share) == Reading(0.3)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT 1 AS score", "one column named value"),
        ("SELECT NULL::float8 AS value", "NULL for value: no data"),
        ("SELECT 'nan'::float8 AS value", "expected a finite number"),
        ("SELECT 'x' AS value", "expected a number"),
        ("SELECT 1 AS value FROM generate_series(1, 2)", "more than one row"),
    ],
)
def test_unusable_values_are_refused(source: Source, query: str, message: str) -> None:
    with pytest.raises(CollectionError, match=message):
        _read_value(source.reader_url, query)


# --- SQLite: a read-only file, an interrupted query, one statement per call -----------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "jobs.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE job_results (status TEXT NOT NULL, rows_per_second REAL)")
        connection.executemany(
            "INSERT INTO job_results VALUES (?, ?)", [("succeeded", 2500.0)] * 7 + [("failed", None)] * 3
        )
    connection.close()
    return f"sqlite:///{path}"


def _sqlite_rows(url: str) -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        count = int(connection.execute("SELECT count(*) FROM job_results").fetchone()[0])
    connection.close()
    return count


def test_sqlite_counts_and_values(sqlite_url: str) -> None:
    counts = "SELECT sum(status = 'succeeded') AS good, count(*) AS total FROM job_results"
    assert _collect(sqlite_url, counts) == Collected(good=7, total=10)
    mean = "SELECT avg(rows_per_second) AS value FROM job_results"
    assert _read_value(sqlite_url, mean) == Reading(2500.0)


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM job_results RETURNING 1 AS good, 1 AS total",
        "INSERT INTO job_results VALUES ('succeeded', 1) RETURNING 1 AS good, 1 AS total",
        "PRAGMA query_only = OFF",
    ],
)
def test_sqlite_writes_are_refused(sqlite_url: str, query: str) -> None:
    with pytest.raises(CollectionError, match=r"readonly|read-only|no result set"):
        _collect(sqlite_url, query)
    assert _sqlite_rows(sqlite_url) == 10


def test_sqlite_runs_one_statement_only(sqlite_url: str) -> None:
    with pytest.raises(CollectionError, match="one statement at a time"):
        _collect(sqlite_url, "SELECT 1 AS good, 1 AS total; DELETE FROM job_results")
    assert _sqlite_rows(sqlite_url) == 10


def test_a_slow_sqlite_query_is_interrupted_at_the_timeout(sqlite_url: str) -> None:
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT count(*) AS good, count(*) AS total FROM n"
    )
    started = time.perf_counter()
    with pytest.raises(CollectionError, match="cancelled after the 300ms timeout"):
        _collect(sqlite_url, endless, timeout="300ms")
    assert time.perf_counter() - started < 5


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    with pytest.raises(CollectionError, match="cannot open the SQLite database"):
        _collect(f"sqlite:///{missing}", "SELECT 1 AS good, 1 AS total")
    assert not missing.exists()
