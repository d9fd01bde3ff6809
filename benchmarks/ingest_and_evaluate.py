"""Benchmark of the first loop: request-event ingestion and SLO evaluation on a real Postgres.

Run: .venv/bin/python benchmarks/ingest_and_evaluate.py   (prints one JSON object)

It starts an embedded Postgres in a temporary directory (or uses MLSLO_BENCH_DATABASE_URL, a
server on which it may create a database), migrates a fresh database, and measures:
- ingestion through the service function (events within one hour, and a backfill spread over
  three days, which touches thousands of minutes) and through the real HTTP API (uvicorn on loopback);
- evaluate_all over many SLOs with one day and with thirty days of per-minute history, in the
  same run, and their ratio (how evaluation cost grows with history length)."""

from __future__ import annotations

import json
import os
import socket
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from support import bench_database

from app import migrations
from app.auth import service as auth_service
from app.auth.service import Scope
from app.clock import ManualClock
from app.config import Settings
from app.db import create_session_factory, transaction
from app.evaluation import service as evaluation_service
from app.main import AppDependencies, create_app
from app.measurements import service as measurements_service
from app.measurements.schemas import RequestEventBatch
from app.slos.models import Slo
from app.systems import service as systems_service
from app.systems.models import Phase
from app.systems.schemas import SystemCreate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BATCH = 10_000
REPEATS = 5
SLOS_PER_HISTORY = 50


def _events(count: int, spread: timedelta) -> list[dict[str, Any]]:
    """`count` events spread evenly over `spread` before NOW (a backfill touches many minutes)."""
    step = spread / count
    return [
        {
            "time": (NOW - step * i).isoformat(),
            "latency_ms": float(50 + i % 400),
            "outcome": "error" if i % 500 == 0 else "success",
        }
        for i in range(count)
    ]


def _make_slo(system_id: int, name: str, kind: str) -> Slo:
    return Slo(
        system_id=system_id,
        phase="production",
        name=name,
        description="",
        sli_kind=kind,
        threshold_ms=300.0 if kind == "latency" else None,
        objective=0.999,
        period=timedelta(days=30),
        min_events=None,
        definition={},
        source_path="bench",
        created_at=NOW,
        updated_at=NOW,
    )


def _seed_history(engine: Engine, slo_ids: list[int], days: int) -> int:
    """Per-minute counts for `days` days before NOW, written in SQL (seeding, not the path measured)."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO slo_minute_count (slo_id, minute, good, total) "
                "SELECT s, m, 100 - (extract(epoch from m)::bigint % 97 = 0)::int, 100 "
                "FROM unnest(CAST(:ids AS int[])) AS s, "
                "generate_series(CAST(:start AS timestamptz), CAST(:end AS timestamptz), interval '1 minute') AS m"
            ),
            {"ids": slo_ids, "start": NOW - timedelta(days=days), "end": NOW - timedelta(minutes=1)},
        )
    return len(slo_ids) * days * 1440


def _time(function: Any, repeats: int = REPEATS) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    with bench_database() as url:
        engine = create_engine(url, pool_size=5)
        try:
            results = _run(engine)
        finally:
            engine.dispose()
    print(json.dumps(results))


def _run(engine: Engine) -> dict[str, Any]:
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    clock = ManualClock(NOW)
    settings = Settings(database_url=None, data_dir=Path(tempfile.gettempdir()))

    with transaction(session_factory) as db_session:
        system = systems_service.register(
            db_session=db_session,
            clock=clock,
            system_in=SystemCreate(name="bench", phase=Phase.PRODUCTION),
            registered_by="bench",
        )
        for name, kind in (("availability", "error_rate"), ("latency", "latency")):
            db_session.add(_make_slo(system.id, name, kind))
        ingest_key = auth_service.create_key(
            db_session=db_session, clock=clock, name="bench-ingest", scopes=[Scope.INGEST]
        ).secret

    payload = {"events": _events(BATCH, timedelta(hours=1))}
    batch = RequestEventBatch.model_validate(payload)
    backfill = RequestEventBatch.model_validate({"events": _events(BATCH, timedelta(days=3))})

    def ingest_in_process(events: RequestEventBatch) -> None:
        with transaction(session_factory) as db_session:
            target = systems_service.get(db_session=db_session, name="bench")
            measurements_service.ingest_request_events(
                db_session=db_session, clock=clock, system=target, batch=events
            )

    in_process_seconds = _time(lambda: ingest_in_process(batch))
    backfill_seconds = _time(lambda: ingest_in_process(backfill))

    app = create_app(
        AppDependencies(settings=settings, engine=engine, session_factory=session_factory, clock=clock)
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    body = json.dumps(payload).encode()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

        def ingest_over_http() -> None:
            response = client.post(
                "/api/v1/systems/bench/request-events",
                content=body,
                headers={"Authorization": f"Bearer {ingest_key}", "Content-Type": "application/json"},
            )
            response.raise_for_status()

        http_seconds = _time(ingest_over_http)
    server.should_exit = True
    thread.join(timeout=10)

    # Evaluation cost against history length: two groups of SLOs in separate systems, one with a
    # day of history and one with thirty, each evaluated on its own.
    figures: dict[str, Any] = {}
    for days in (1, 30):
        with transaction(session_factory) as db_session:
            # Move the ingestion system out of the way so each run evaluates one group only.
            for other in systems_service.list_visible(
                db_session=db_session,
                principal=auth_service.Principal(
                    key_name="bench", scopes=frozenset({Scope.ADMIN}), system_id=None
                ),
            ):
                other.phase = Phase.CONCEPT.value
            group = systems_service.register(
                db_session=db_session,
                clock=clock,
                system_in=SystemCreate(name=f"history-{days}d", phase=Phase.PRODUCTION),
                registered_by="bench",
            )
            slos = [_make_slo(group.id, f"slo-{i}", "error_rate") for i in range(SLOS_PER_HISTORY)]
            db_session.add_all(slos)
            db_session.flush()
            slo_ids = [slo.id for slo in slos]
        rows = _seed_history(engine, slo_ids, days)
        with engine.begin() as connection:
            connection.execute(text("ANALYZE slo_minute_count"))

        def evaluate() -> None:
            with transaction(session_factory) as db_session:
                report = evaluation_service.evaluate_all(
                    db_session=db_session, clock=clock, settings=settings
                )
                assert report.slos_evaluated == SLOS_PER_HISTORY

        seconds = _time(evaluate)
        figures[f"evaluate_{days}d_history_seconds"] = round(seconds, 4)
        figures[f"evaluate_{days}d_history_ms_per_slo"] = round(seconds / SLOS_PER_HISTORY * 1000, 3)
        figures[f"minute_rows_{days}d"] = rows

    return {
        "benchmark": "ingest_and_evaluate",
        "postgres": "embedded pgserver 16"
        if not os.environ.get("MLSLO_BENCH_DATABASE_URL")
        else "configured",
        "batch_events": BATCH,
        "request_slos": 2,
        "ingest_in_process_events_per_second": round(BATCH / in_process_seconds),
        "ingest_backfill_3d_in_process_events_per_second": round(BATCH / backfill_seconds),
        "ingest_http_events_per_second": round(BATCH / http_seconds),
        "http_overhead_ratio": round(http_seconds / in_process_seconds, 2),
        "slos_evaluated_per_run": SLOS_PER_HISTORY,
        **figures,
        "evaluate_30d_over_1d_ratio": round(
            figures["evaluate_30d_history_seconds"] / figures["evaluate_1d_history_seconds"], 2
        ),
        "repeats_median_of": REPEATS,
    }


if __name__ == "__main__":
    main()
