"""Two `mlslo scheduler` processes on one database: every collection slot runs exactly once, and
when one process is killed (SIGKILL) the other carries on within one interval."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from app import migrations
from app.clock import SystemClock
from app.collectors.models import CollectorRun
from app.db import create_session_factory
from app.systems.models import Phase
from tests.conftest import create_scratch_database
from tests.factories import create_slo, create_system
from tests.integration.test_collection_scheduling import ProbedEndpoint

INTERVAL = timedelta(seconds=2)
MLSLO = Path(sys.executable).parent / "mlslo"


@pytest.fixture
def endpoint() -> Iterator[ProbedEndpoint]:
    running = ProbedEndpoint()
    yield running
    running.close()


def _start(url: str, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "MLSLO_DATABASE_URL": url,
        "MLSLO_DATA_DIR": str(tmp_path),
        "MLSLO_COLLECTION_TICK_SECONDS": "0.2",
        "MLSLO_EVALUATION_INTERVAL_SECONDS": "3600",
        "MLSLO_DELIVERY_INTERVAL_SECONDS": "3600",
        "MLSLO_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [str(MLSLO), "scheduler", "--no-migrate"], env=environment, stdout=log, stderr=log
    )


def test_two_schedulers_collect_each_slot_once_and_survive_a_kill(
    postgres_admin_url: str, endpoint: ProbedEndpoint, tmp_path: Path
) -> None:
    url = create_scratch_database(postgres_admin_url, "mlslo_two")
    engine = create_engine(url)
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    with session_factory() as db_session:
        system = create_system(db_session, SystemClock(), phase=Phase.TECHNICAL_VALIDATION)
        slo = create_slo(db_session, SystemClock(), system, "health-probe")
        slo.source = "http_probe"
        slo.definition = {
            "sli": {
                "kind": "error_rate",
                "source": "http_probe",
                "collect_every": "2s",
                # Generous: on a loaded machine a probe must not time out and look like a lost slot.
                "http_probe": {"url": endpoint.url, "timeout": "5s"},
            }
        }
        db_session.commit()
        slo_id = slo.id

    first, second = _start(url, tmp_path, "first"), _start(url, tmp_path, "second")
    try:
        time.sleep(12)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = datetime.now(UTC)
        time.sleep(10)
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=15)

    with session_factory() as db_session:
        runs = db_session.scalars(
            select(CollectorRun).where(CollectorRun.slo_id == slo_id).order_by(CollectorRun.slot_start)
        ).all()
    engine.dispose()
    slots = [run.slot_start for run in runs]
    # Every slot from the first to the last was claimed, once (the key is unique) and without gaps.
    assert len(slots) >= 6
    assert all(later - earlier == INTERVAL for earlier, later in itertools.pairwise(slots))
    # Each finished slot probed the endpoint once; at most the slot in flight at the kill did not finish.
    finished = [run for run in runs if run.finished_at is not None]
    assert len(runs) - len(finished) <= 1
    assert endpoint.hits in (len(finished), len(finished) + 1)
    # The survivor collected every slot from one interval after the kill on.
    after_kill = [run for run in runs if run.slot_start >= killed_at + INTERVAL]
    assert len(after_kill) >= 3
    assert {run.claimed_by for run in after_kill} == {after_kill[0].claimed_by}
    assert all(run.outcome == "ok" for run in after_kill)
