"""Loading dataset blocks: CSV and Parquet files inside the definitions folder, and read-only queries on
a real Postgres and on SQLite, with the wine data set as the rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.collectors.results import CollectionError
from app.ml.datasets import load_dataset
from tests.conftest import create_scratch_database

ENV = "MLSLO_TEST_DATASET_URL"


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    frame: pd.DataFrame = load_wine(as_frame=True).frame
    return frame


@pytest.fixture
def definitions(tmp_path: Path, wine: pd.DataFrame) -> Path:
    folder = tmp_path / "slo_definitions"
    (folder / "data").mkdir(parents=True)
    wine.to_csv(folder / "data" / "wine.csv", index=False)
    wine.to_parquet(folder / "data" / "wine.parquet", index=False)
    wine.to_parquet(folder / "data" / "wine.pq", index=False)
    return folder


def _load_error(ref: dict[str, object], base_dir: Path, **kwargs: int) -> str:
    with pytest.raises(CollectionError) as caught:
        load_dataset(ref, base_dir=base_dir, environ={}, **kwargs)
    return str(caught.value)


def test_csv_and_parquet_load_identically(definitions: Path, wine: pd.DataFrame) -> None:
    from_csv = load_dataset({"path": "data/wine.csv"}, base_dir=definitions)
    from_parquet = load_dataset({"path": "data/wine.parquet"}, base_dir=definitions)
    from_pq = load_dataset({"path": "./data/wine.pq"}, base_dir=definitions)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    pd.testing.assert_frame_equal(from_parquet, from_pq)
    pd.testing.assert_frame_equal(from_csv, wine)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd.csv", "dataset.path must be relative to the definitions folder"),
        ("../outside.csv", "dataset.path must stay inside the definitions folder"),
        ("data/../../outside.csv", "dataset.path must stay inside the definitions folder"),
        ("data/missing.csv", "dataset.path: no file data/missing.csv"),
        ("data/wine.xlsx", "must end in .csv, .parquet or .pq"),
        ("", "non-empty relative path"),
    ],
)
def test_paths_outside_the_folder_missing_or_unsupported_are_refused(
    definitions: Path, path: str, message: str
) -> None:
    (definitions.parent / "outside.csv").write_text("a,label\n1,0\n")
    assert message in _load_error({"path": path}, definitions)


def test_a_symbolic_link_out_of_the_folder_is_refused(definitions: Path) -> None:
    secret = definitions.parent / "secret.csv"
    secret.write_text("a,label\n1,0\n")
    (definitions / "data" / "link.csv").symlink_to(secret)
    assert "leads outside the definitions folder" in _load_error({"path": "data/link.csv"}, definitions)


def test_the_field_name_is_in_the_messages(definitions: Path) -> None:
    with pytest.raises(CollectionError, match=r"^http_probe\.holdout\.path must be relative"):
        load_dataset({"path": "/tmp/x.csv"}, base_dir=definitions, field="http_probe.holdout")


@pytest.mark.parametrize(
    "ref",
    [{}, {"path": "data/wine.csv", "query": "SELECT 1", "connection_env": ENV}],
)
def test_exactly_one_of_path_and_query(definitions: Path, ref: dict[str, object]) -> None:
    assert "needs exactly one of path and query" in _load_error(ref, definitions)


def test_a_query_needs_a_connection_variable(definitions: Path) -> None:
    assert "dataset.connection_env is not set" in _load_error({"query": "SELECT 1"}, definitions)


@pytest.mark.parametrize("path", ["data/wine.csv", "data/wine.parquet"])
def test_too_many_rows_is_an_error_not_a_cut(definitions: Path, wine: pd.DataFrame, path: str) -> None:
    assert f"more than {len(wine) - 1} rows" in _load_error(
        {"path": path}, definitions, max_rows=len(wine) - 1
    )
    assert len(load_dataset({"path": path}, base_dir=definitions, max_rows=len(wine))) == len(wine)


@pytest.mark.parametrize("name", ["broken.csv", "broken.parquet"])
def test_unreadable_files_are_collection_errors(definitions: Path, name: str) -> None:
    (definitions / name).write_bytes(b"\xff\xfe\x00garbage\x00\x81")
    assert f"cannot read {name}" in _load_error({"path": name}, definitions)


# --- Queries: Postgres and SQLite -------------------------------------------------------------------


@pytest.fixture(scope="module")
def wine_database_url(postgres_admin_url: str, wine: pd.DataFrame) -> Iterator[str]:
    url = create_scratch_database(postgres_admin_url, "mlslo_dataset")
    engine = create_engine(url)
    try:
        wine.to_sql("wine", engine, index_label="id")
        yield url
    finally:
        engine.dispose()
        admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def wine_sqlite_url(tmp_path: Path, wine: pd.DataFrame) -> str:
    path = tmp_path / "wine.db"
    with sqlite3.connect(path) as connection:
        wine.to_sql("wine", connection, index_label="id")
    connection.close()
    return f"sqlite:///{path}"


def _query(url: str, query: str, *, max_rows: int = 5_000_000) -> pd.DataFrame:
    ref = {"query": query, "connection_env": ENV}
    return load_dataset(ref, base_dir=Path("/nonexistent"), environ={ENV: url}, max_rows=max_rows)


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_a_query_gives_the_same_rows_as_the_file(
    request: pytest.FixtureRequest, wine: pd.DataFrame, database: str
) -> None:
    url = request.getfixturevalue("wine_database_url" if database == "postgres" else "wine_sqlite_url")
    loaded = _query(url, "SELECT * FROM wine ORDER BY id").drop(columns="id")
    pd.testing.assert_frame_equal(loaded, wine)


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_a_query_with_too_many_rows_is_refused(request: pytest.FixtureRequest, database: str) -> None:
    url = request.getfixturevalue("wine_database_url" if database == "postgres" else "wine_sqlite_url")
    with pytest.raises(CollectionError, match="more than 100 rows"):
        _query(url, "SELECT * FROM wine", max_rows=100)
    assert len(_query(url, "SELECT * FROM wine LIMIT 100", max_rows=100)) == 100


def test_an_empty_result_keeps_its_columns(wine_sqlite_url: str) -> None:
    loaded = _query(wine_sqlite_url, "SELECT alcohol, target FROM wine WHERE false")
    assert list(loaded.columns) == ["alcohol", "target"]
    assert loaded.empty


def test_a_dataset_query_is_read_only_and_never_shows_the_url(wine_database_url: str) -> None:
    with pytest.raises(CollectionError) as caught:
        _query(wine_database_url, "DELETE FROM wine RETURNING *")
    assert "read-only transaction" in str(caught.value)
    assert wine_database_url not in str(caught.value)
    assert len(_query(wine_database_url, "SELECT id FROM wine")) == 178


def test_a_slow_dataset_query_is_cut_off(wine_database_url: str) -> None:
    ref = {"query": "SELECT pg_sleep(2) FROM wine", "connection_env": ENV, "timeout": "200ms"}
    with pytest.raises(CollectionError, match="200ms statement timeout"):
        load_dataset(ref, base_dir=Path("/nonexistent"), environ={ENV: wine_database_url})
