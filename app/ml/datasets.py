"""Loading a dataset named by a definition's dataset block (a holdout, a reference sample) into a
DataFrame: a CSV or Parquet file beside the definitions, or the rows of a read-only SQL query."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pyarrow.parquet as pq

from app.collectors.results import CollectionError
from app.collectors.sql import query_rows

DEFAULT_MAX_ROWS = 5_000_000
_CSV_SUFFIXES = frozenset({".csv"})
_PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
_MESSAGE_LIMIT = 300


def load_dataset(
    ref: Mapping[str, Any],
    *,
    base_dir: Path,
    environ: Mapping[str, str] = os.environ,
    max_rows: int = DEFAULT_MAX_ROWS,
    field: str = "dataset",
) -> pd.DataFrame:
    """The rows of the dataset `ref` describes: exactly one of
    - `path`: a CSV (.csv) or Parquet (.parquet, .pq) file, relative to `base_dir` (the definitions
      folder) and inside it;
    - `query`: SQL run read-only, with a timeout (`timeout`, default 10s), on the database whose URL is
      in the environment variable `connection_env` (see `app.collectors.sql.query_rows`).

    More than `max_rows` rows is an error, not a silent cut. `field` names the block in error messages
    (e.g. "http_probe.holdout"). Raises CollectionError, whose message never holds a secret."""
    path = ref.get("path")
    query = ref.get("query")
    if (path is None) == (query is None):
        raise CollectionError(f"{field} needs exactly one of path and query")
    if path is not None:
        return _load_file(path, base_dir=base_dir, max_rows=max_rows, field=field)
    connection_env = ref.get("connection_env")
    if not isinstance(connection_env, str) or not connection_env:
        raise CollectionError(f"{field}.connection_env is not set; a query needs it")
    if not isinstance(query, str) or not query.strip():
        raise CollectionError(f"{field}.query is empty")
    columns, rows = query_rows(config=ref, environ=environ, max_rows=max_rows)
    return pd.DataFrame.from_records(rows, columns=columns)


def _load_file(path: object, *, base_dir: Path, max_rows: int, field: str) -> pd.DataFrame:
    location = _resolve_inside(path, base_dir=base_dir, field=field)
    suffix = location.suffix.lower()
    if suffix not in _CSV_SUFFIXES | _PARQUET_SUFFIXES:
        raise CollectionError(f"{field}.path must end in .csv, .parquet or .pq, not {location.name!r}")
    if not location.is_file():
        raise CollectionError(f"{field}.path: no file {path!s} in the definitions folder")
    try:
        if suffix in _CSV_SUFFIXES:
            # One row more than allowed is enough to know the file is too long.
            frame = pd.read_csv(location, nrows=max_rows + 1)
        else:
            # The row count is in the footer: refuse a long file before reading its columns.
            if pq.read_metadata(location).num_rows > max_rows:
                raise CollectionError(f"{field}.path: {path!s} has more than {max_rows} rows")
            frame = pd.read_parquet(location)
    except CollectionError:
        raise
    except (OSError, ValueError) as exc:
        # pandas' and pyarrow's parse errors (and UnicodeDecodeError) are ValueErrors; their text
        # names the problem, and holds no secret (the path is in the definition anyway).
        detail = " ".join(str(exc).split())[:_MESSAGE_LIMIT]
        raise CollectionError(f"{field}.path: cannot read {path!s}: {type(exc).__name__}: {detail}") from None
    if len(frame) > max_rows:
        raise CollectionError(f"{field}.path: {path!s} has more than {max_rows} rows")
    return frame


def _resolve_inside(path: object, *, base_dir: Path, field: str) -> Path:
    """`path` under `base_dir`, refusing anything that could read a file outside it."""
    if not isinstance(path, str) or not path.strip():
        raise CollectionError(f"{field}.path must be a non-empty relative path")
    relative = PurePath(path)
    if relative.is_absolute():
        raise CollectionError(f"{field}.path must be relative to the definitions folder, not absolute")
    if ".." in relative.parts:
        raise CollectionError(f"{field}.path must stay inside the definitions folder (no '..')")
    base = base_dir.resolve()
    location = (base / relative).resolve()
    # A symbolic link may still lead out of the folder.
    if not location.is_relative_to(base):
        raise CollectionError(f"{field}.path leads outside the definitions folder")
    return location
