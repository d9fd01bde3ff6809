"""`mlslo silence create|list|expire` against a real, migrated database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import migrations
from app.alerting_policy.cli import silence_cli
from app.clock import SystemClock
from app.config import get_settings
from tests.conftest import create_scratch_database
from tests.factories import create_slo, create_system


@pytest.fixture
def database(postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = create_scratch_database(postgres_admin_url, "mlslo_silence_cli")
    engine = create_engine(url)
    migrations.upgrade(engine)
    with Session(engine) as session:
        create_slo(session, SystemClock(), create_system(session, SystemClock()), "api-availability")
        session.commit()
    monkeypatch.setenv("MLSLO_DATABASE_URL", url)
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()
    engine.dispose()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(silence_cli, list(args))
    return result.exit_code, result.output


def test_create_list_and_expire(database: Engine) -> None:
    before = datetime.now(UTC)
    code, output = run(
        "create",
        "recommender",
        "--slo",
        "api-availability",
        "--severity",
        "page",
        "--duration",
        "2h",
        "--comment",
        "deploying v42",
        "--by",
        "alice",
    )
    assert code == 0, output
    silence_id = int(output.split("\t")[0])
    with database.connect() as connection:
        row = connection.execute(
            text(
                "SELECT system, slo, severity, starts_at, ends_at, created_by, comment, expired_at FROM silence"
            )
        ).one()
    assert (row.system, row.slo, row.severity, row.created_by, row.comment, row.expired_at) == (
        "recommender",
        "api-availability",
        "page",
        "alice",
        "deploying v42",
        None,
    )
    assert before <= row.starts_at <= datetime.now(UTC)
    assert row.ends_at - row.starts_at == timedelta(hours=2)

    code, output = run("create", "recommender", "--duration", "1d", "--comment", "maintenance")
    assert code == 0, output
    wide_id = int(output.split("\t")[0])
    assert "\tcli\t" in output

    code, output = run("list")
    assert code == 0, output
    lines = output.strip().splitlines()
    assert lines[0].startswith("id\tstate\tscope")
    assert sorted(int(line.split("\t")[0]) for line in lines[1:]) == sorted([silence_id, wide_id])
    assert f"{silence_id}\tactive\trecommender/api-availability\tpage\t" in output
    assert f"{wide_id}\tactive\trecommender\tany\t" in output

    code, output = run("expire", str(silence_id))
    assert code == 0, output
    assert output.startswith(f"{silence_id}\texpired\t")

    code, output = run("list")
    assert [int(line.split("\t")[0]) for line in output.strip().splitlines()[1:]] == [wide_id]
    code, output = run("list", "--all")
    assert {int(line.split("\t")[0]) for line in output.strip().splitlines()[1:]} == {silence_id, wide_id}

    code, output = run("expire", str(silence_id))
    assert code == 1
    assert f"silence_id: silence {silence_id} is already over" in output


def test_invalid_input_is_refused_naming_the_field(database: Engine) -> None:
    cases = [
        (["create", "nope", "--duration", "2h", "--comment", "x"], "system:"),
        (["create", "recommender", "--slo", "nope", "--duration", "2h", "--comment", "x"], "slo:"),
        (["create", "recommender", "--duration", "45d", "--comment", "x"], "duration:"),
        (["create", "recommender", "--duration", "soon", "--comment", "x"], "duration:"),
        (["create", "recommender", "--duration", "2h", "--comment", " "], "comment:"),
        (["expire", "12345"], "silence_id:"),
    ]
    for args, field in cases:
        code, output = run(*args)
        assert code == 1, (args, output)
        assert field in output, (args, output)
    code, output = run(
        "create", "recommender", "--severity", "critical", "--duration", "2h", "--comment", "x"
    )
    assert code == 2
    code, output = run("list", "--all")
    assert (code, output.strip()) == (0, "no silences")
    with database.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM silence")) == 0
