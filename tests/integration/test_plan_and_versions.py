"""`mlslo plan` shows field-level changes; `apply` keeps history: same row, a new version, data kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from app import migrations
from app.cli import cli
from app.config import get_settings
from tests.conftest import create_scratch_database

FILE = """\
apiVersion: mlslo/v1
kind: SLOSet
slos:
  - name: api-availability
    sli: {kind: error_rate, source: push}
    objective: {objective}
    window: 7d
  - name: api-latency
    sli: {kind: latency, source: push}
    objectives:
      - {name: fast, target: 0.9, value: 200}
      - {name: tolerable, target: 0.99, value: 800}
    window: 7d
"""


@pytest.fixture
def database_url(postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = create_scratch_database(postgres_admin_url, "mlslo_plan")
    engine = create_engine(url)
    migrations.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO system (name, description, phase, created_at, updated_at) "
                "VALUES ('recommender', '', 'technical_validation', now(), now())"
            )
        )
    engine.dispose()
    monkeypatch.setenv("MLSLO_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _write(root: Path, objective: str) -> Path:
    folder = root / "recommender"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "technical_validation.yaml").write_text(FILE.replace("{objective}", objective))
    return root


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_plan_then_apply_then_change_keeps_history(database_url: str, tmp_path: Path) -> None:
    root = _write(tmp_path, "0.99")
    planned = run("plan", str(root))
    # Several objectives become one row each, named <slo>.<objective>.
    for name in ("api-availability", "api-latency.fast", "api-latency.tolerable"):
        assert f"+ recommender/technical_validation/{name}" in planned
    assert "Plan: 3 to add, 0 to change, 0 to archive, 0 unchanged." in planned

    run("apply", str(root))
    engine = create_engine(database_url)
    with engine.begin() as connection:
        slo_id = connection.scalar(text("SELECT id FROM slo WHERE name = 'api-availability'"))
        connection.execute(
            text("INSERT INTO slo_minute_count VALUES (:id, now() - interval '1 hour', 95, 100)"),
            {"id": slo_id},
        )
        thresholds = dict(
            connection.execute(text("SELECT name, threshold_ms FROM slo WHERE sli_kind = 'latency'")).all()
        )
    assert thresholds == {"api-latency.fast": 200.0, "api-latency.tolerable": 800.0}

    _write(tmp_path, "0.995")
    planned = run("plan", str(root))
    assert "~ recommender/technical_validation/api-availability" in planned
    assert "objective: 0.99 -> 0.995" in planned
    assert "Plan: 0 to add, 1 to change, 0 to archive, 2 unchanged." in planned

    run("apply", str(root))
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT id, version, objective FROM slo WHERE name = 'api-availability'")
        ).one()
        versions = connection.execute(
            text("SELECT version, objective FROM slo_version WHERE slo_id = :id ORDER BY version"),
            {"id": slo_id},
        ).all()
        kept = connection.scalar(
            text("SELECT sum(total) FROM slo_minute_count WHERE slo_id = :id"), {"id": slo_id}
        )
    assert (row.id, row.version, row.objective) == (slo_id, 2, 0.995)
    assert [tuple(v) for v in versions] == [(1, 0.99), (2, 0.995)]
    assert kept == 100
    assert "Plan: 0 to add, 0 to change, 0 to archive, 3 unchanged." in run("plan", str(root))
    engine.dispose()
