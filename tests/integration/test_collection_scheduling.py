"""Collection slots run exactly once across processes sharing the database, a dead process's SLOs
are collected by another at the next slot, and a failed collection is a gap with its error kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app import migrations
from app.clock import ManualClock
from app.collectors.jobs import SourceCollectors
from app.collectors.models import CollectorRun
from app.collectors.service import claim_due, collect_due
from app.db import SessionFactory, create_session_factory
from app.measurements.models import SloMinuteCount
from app.slos.models import Slo
from app.systems.models import Phase
from tests.conftest import TEST_START, create_scratch_database
from tests.factories import create_slo, create_system


class ProbedEndpoint:
    """A real HTTP endpoint that counts the probes it answers."""

    def __init__(self, status: int = 200) -> None:
        self.hits = 0
        self.status = status
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with endpoint._lock:
                    endpoint.hits += 1
                body = b"ok"
                self.send_response(endpoint.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[ProbedEndpoint]:
    running = ProbedEndpoint()
    yield running
    running.close()


@pytest.fixture
def shared_database(postgres_admin_url: str) -> Iterator[SessionFactory]:
    """A database of its own: several 'processes' (threads with their own connections) share it."""
    engine = create_engine(create_scratch_database(postgres_admin_url, "mlslo_collect"), pool_size=10)
    migrations.upgrade(engine)
    yield create_session_factory(engine)
    engine.dispose()


def _probe_slo(session_factory: SessionFactory, clock: ManualClock, url: str, every: str = "1m") -> int:
    with session_factory() as db_session:
        system = create_system(db_session, clock, phase=Phase.TECHNICAL_VALIDATION)
        slo = create_slo(db_session, clock, system, "health-probe")
        slo.source = "http_probe"
        slo.definition = {
            "sli": {
                "kind": "error_rate",
                "source": "http_probe",
                "collect_every": every,
                "http_probe": {"url": url, "timeout": "2s"},
            }
        }
        db_session.commit()
        return slo.id


def _runs(db_session: Session, slo_id: int) -> list[CollectorRun]:
    return list(
        db_session.scalars(
            select(CollectorRun).where(CollectorRun.slo_id == slo_id).order_by(CollectorRun.slot_start)
        )
    )


def test_each_slot_is_collected_once_by_one_of_several_processes(
    shared_database: SessionFactory, endpoint: ProbedEndpoint
) -> None:
    clock = ManualClock(TEST_START + timedelta(seconds=20))
    slo_id = _probe_slo(shared_database, clock, endpoint.url)
    barrier = threading.Barrier(3)

    def process(node: str) -> None:
        with httpx.Client(timeout=5) as http_client:
            barrier.wait()
            collect_due(
                session_factory=shared_database,
                clock=clock,
                http_client=http_client,
                collectors=SourceCollectors(),
                node=node,
            )

    for _ in range(3):  # three slots, three processes racing for each
        threads = [threading.Thread(target=process, args=(f"node-{n}",)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        clock.advance(timedelta(minutes=1))

    assert endpoint.hits == 3
    with shared_database() as db_session:
        runs = _runs(db_session, slo_id)
        assert [(run.slot_start, run.outcome, run.good, run.total) for run in runs] == [
            (TEST_START + timedelta(minutes=m), "ok", 1, 1) for m in range(3)
        ]
        counts = db_session.scalars(select(SloMinuteCount.total).where(SloMinuteCount.slo_id == slo_id)).all()
        assert sum(counts) == 3


def test_a_dead_process_is_taken_over_at_the_next_slot(
    shared_database: SessionFactory, endpoint: ProbedEndpoint
) -> None:
    clock = ManualClock(TEST_START)
    slo_id = _probe_slo(shared_database, clock, endpoint.url)
    # node-a claims the slot and dies before collecting it.
    claims, _ = claim_due(session_factory=shared_database, clock=clock, node="node-a")
    assert [claim.slo_id for claim in claims] == [slo_id]
    with httpx.Client(timeout=5) as http_client:
        same_slot = collect_due(
            session_factory=shared_database,
            clock=clock,
            http_client=http_client,
            collectors=SourceCollectors(),
            node="node-b",
        )
        assert (same_slot.collected, same_slot.skipped_already_claimed) == ([], 1)
        clock.advance(timedelta(minutes=1))
        next_slot = collect_due(
            session_factory=shared_database,
            clock=clock,
            http_client=http_client,
            collectors=SourceCollectors(),
            node="node-b",
        )
    assert next_slot.collected == [slo_id]
    with shared_database() as db_session:
        runs = _runs(db_session, slo_id)
    assert [(run.claimed_by, run.outcome) for run in runs] == [("node-a", "running"), ("node-b", "ok")]


def test_a_failed_collection_is_a_gap_with_its_error(shared_database: SessionFactory) -> None:
    clock = ManualClock(TEST_START)
    slo_id = _probe_slo(shared_database, clock, "http://127.0.0.1:9/health")
    with shared_database() as db_session:
        slo = db_session.get(Slo, slo_id)
        assert slo is not None
        slo.source = "sql"
        slo.definition = {
            "sli": {
                "kind": "error_rate",
                "source": "sql",
                "sql": {"connection_env": "MLSLO_TEST_UNSET_SOURCE_URL", "query": "SELECT 1"},
            }
        }
        db_session.commit()
    with httpx.Client(timeout=5) as http_client:
        report = collect_due(
            session_factory=shared_database,
            clock=clock,
            http_client=http_client,
            collectors=SourceCollectors(),
            node="node-a",
        )
    assert report.failed == [slo_id]
    with shared_database() as db_session:
        (run,) = _runs(db_session, slo_id)
        assert run.outcome == "failed"
        assert run.error is not None
        assert "MLSLO_TEST_UNSET_SOURCE_URL" in run.error
        assert db_session.scalars(select(SloMinuteCount).where(SloMinuteCount.slo_id == slo_id)).all() == []
