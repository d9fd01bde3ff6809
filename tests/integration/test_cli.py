"""The `mlslo` command line against real files and a real database."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.db import EmbeddedPostgres
from app.migrations import PROJECT_ROOT
from app.slos.loader import load_path
from tests.conftest import create_scratch_database

BAD_FILE = """\
apiVersion: mlslo/v1
kind: SLOSet
slos:
  - name: api-latency
    sli:
      kind: latency
      source: push
    objective: 1.5
    window: 30x
"""


@pytest.fixture
def scratch_url(postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = create_scratch_database(postgres_admin_url, "mlslo_cli")
    monkeypatch.setenv("MLSLO_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_validate_accepts_the_shipped_definitions() -> None:
    code, output = run("validate", str(PROJECT_ROOT / "slo_definitions"))
    assert code == 0, output
    assert "valid" in output


def test_validate_reports_every_error_with_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "recommender").mkdir()
    (tmp_path / "recommender" / "production.yaml").write_text(BAD_FILE)
    code, output = run("validate", str(tmp_path))
    assert code == 1
    assert "recommender/production.yaml:8:16: slos[0].objective: must be below 1 (100%)" in output
    assert "recommender/production.yaml:9:13: slos[0].window: '30x': unit must be s, m, h, d or w" in output
    assert "2 error(s)" in output


def test_db_upgrade_keys_and_apply(scratch_url: str) -> None:
    code, output = run("db", "upgrade")
    assert code == 0, output
    engine = create_engine(scratch_url)
    assert "slo" in inspect(engine).get_table_names()

    code, output = run("apply", str(PROJECT_ROOT / "slo_definitions"))
    # No system is registered yet: nothing is applied, and the error names the file and field.
    assert code == 1
    assert "recommender/production.yaml" in output
    assert "nothing applied" in output
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM slo")) == 0
        connection.execute(
            text(
                "INSERT INTO system (name, description, phase, created_at, updated_at) "
                "SELECT name, '', 'production', now(), now() "
                "FROM unnest(ARRAY['recommender', 'content-moderation', 'cvr-ranking']) AS name"
            )
        )
        connection.commit()

    code, output = run("apply", "--dry-run", str(PROJECT_ROOT / "slo_definitions"))
    assert code == 0, output
    assert "  + recommender/production/api-availability" in output
    assert "dry run" in output
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM slo")) == 0

    code, output = run("apply", str(PROJECT_ROOT / "slo_definitions"))
    assert code == 0, output
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM slo")) == shipped_rows()

    code, output = run("keys", "create", "--name", "ops", "--scope", "admin")
    assert code == 0, output
    secret = output.strip().splitlines()[-1]
    assert secret.startswith("mlslo_")
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT key_hash, scopes FROM api_key WHERE name = 'ops'")).one()
    assert secret not in stored.key_hash
    assert stored.scopes == ["admin"]

    code, output = run("keys", "create", "--name", "ops", "--scope", "admin")
    assert code == 1
    assert "already exists" in output
    code, output = run("keys", "create", "--name", "x", "--scope", "root")
    assert code == 2
    engine.dispose()


def test_apply_with_one_broken_file_applies_nothing(scratch_url: str, tmp_path: Path) -> None:
    assert run("db", "upgrade")[0] == 0
    engine = create_engine(scratch_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO system (name, description, phase, created_at, updated_at) "
                "VALUES ('recommender', '', 'production', now(), now())"
            )
        )
    definitions = tmp_path / "slo_definitions"
    shutil.copytree(PROJECT_ROOT / "slo_definitions" / "recommender", definitions / "recommender")
    (definitions / "recommender" / "technical_validation.yaml").write_text(BAD_FILE)

    code, output = run("apply", str(definitions))

    assert code == 1
    assert "recommender/technical_validation.yaml:8:16: slos[0].objective:" in output
    assert "2 error(s); nothing applied" in output
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM slo")) == 0
    engine.dispose()


def shipped_rows() -> int:
    """Rows the shipped definitions become: one per objective of every SLO."""
    loaded = load_path(PROJECT_ROOT / "slo_definitions")
    assert loaded.ok
    return sum(len(spec.resolved_objectives()) for slo_file in loaded.files for spec in slo_file.slos)


def test_embedded_postgres_keeps_its_data_across_restarts() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="mlslo-persist-")) / "postgres"
    try:
        first = EmbeddedPostgres(data_dir)
        engine = create_engine(first.url("persisted"))
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE kept (value text)"))
            connection.execute(text("INSERT INTO kept VALUES ('still here')"))
        engine.dispose()
        first.stop()

        second = EmbeddedPostgres(data_dir)
        engine = create_engine(second.url("persisted"))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT value FROM kept")) == "still here"
        engine.dispose()
        second.stop()
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)
