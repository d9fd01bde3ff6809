"""Benchmark of request-event ingestion through the HTTP API against a raw COPY, on a real Postgres.

Run: .venv/bin/python benchmarks/ingest.py   (prints one JSON object)

Starts an embedded Postgres (or uses MLSLO_BENCH_DATABASE_URL), migrates a fresh database with one
production system and two request SLOs (availability and 300 ms latency), and serves the real app
with uvicorn on 127.0.0.1 in a child process. Several client threads then push batches of 10,000
events for a fixed duration (the columnar body; a shorter run measures the list-of-objects body)
and count what was accepted with 202; every other answer or exception counts as an error. In the
same run the same events are COPYed into a plain table, which bounds what Postgres alone can take.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from support import bench_database

from app import migrations
from app.auth import service as auth_service
from app.auth.service import Scope
from app.clock import SystemClock
from app.config import Settings
from app.db import create_session_factory, transaction
from app.measurements import service as measurements_service
from app.slos.models import Slo
from app.systems import service as systems_service
from app.systems.models import Phase
from app.systems.schemas import SystemCreate

BATCH = 10_000
DISTINCT_BODIES = 8


def _serve(url: str, port: int) -> None:
    """The child process: the real app on uvicorn, as `mlslo serve` runs it (without the scheduler)."""
    import uvicorn

    from app.main import AppDependencies, create_app

    engine = create_engine(url, pool_size=10, max_overflow=10)
    settings = Settings(database_url=None, data_dir=Path(tempfile.gettempdir()))
    app = create_app(
        AppDependencies(settings=settings, engine=engine, session_factory=create_session_factory(engine))
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _events(seed: int, now: datetime) -> list[tuple[datetime, float, str]]:
    """A batch spread over the last two minutes, ~0.2% errors and a spread of latencies."""
    return [
        (
            now - timedelta(seconds=((seed * BATCH + i) * 0.0123) % 120),
            float(20 + (i * 37 + seed) % 400),
            "error" if (i + seed) % 500 == 0 else "success",
        )
        for i in range(BATCH)
    ]


def _column_body(events: list[tuple[datetime, float, str]]) -> bytes:
    return json.dumps(
        {
            "time": [moment.isoformat() for moment, _, _ in events],
            "latency_ms": [latency for _, latency, _ in events],
            "outcome": [outcome for _, _, outcome in events],
        }
    ).encode()


def _row_body(events: list[tuple[datetime, float, str]]) -> bytes:
    return json.dumps(
        {"events": [{"time": m.isoformat(), "latency_ms": lat, "outcome": o} for m, lat, o in events]}
    ).encode()


def _push(port: int, key: str, bodies: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    accepted = [0] * clients
    errors = [0] * clients
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            sent = index
            while time.monotonic() < deadline:
                try:
                    response = http.post(
                        "/api/v1/systems/bench/request-events",
                        content=bodies[sent % len(bodies)],
                        headers=headers,
                    )
                    if response.status_code == 202:
                        accepted[index] += BATCH
                    else:
                        errors[index] += 1
                except httpx.HTTPError:
                    errors[index] += 1
                sent += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"events": sum(accepted), "seconds": elapsed, "errors": sum(errors)}


def _copy(engine: Engine, batches: list[list[tuple[datetime, float, str]]], rounds: int) -> float:
    """Events per second of COPY into a plain table, the same events as the HTTP run."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("CREATE TABLE bench_event (time timestamptz, latency_ms float8, outcome text)")
        raw.commit()
        started = time.perf_counter()
        count = 0
        for _ in range(rounds):
            for events in batches:
                with cursor.copy("COPY bench_event (time, latency_ms, outcome) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in events:
                        copy.write_row(row)
                raw.commit()
                count += len(events)
        return count / (time.perf_counter() - started)
    finally:
        raw.close()


def _setup(engine: Engine) -> str:
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    clock = SystemClock()
    now = clock.now()
    with transaction(session_factory) as db_session:
        measurements_service.maintain_partitions(
            db_session=db_session, clock=clock, retention=measurements_service.DEFAULT_RETENTION
        )
        system = systems_service.register(
            db_session=db_session,
            clock=clock,
            system_in=SystemCreate(name="bench", phase=Phase.PRODUCTION),
            registered_by="bench",
        )
        for name, kind in (("availability", "error_rate"), ("latency", "latency")):
            db_session.add(
                Slo(
                    system_id=system.id,
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
                    created_at=now,
                    updated_at=now,
                )
            )
        return auth_service.create_key(
            db_session=db_session, clock=clock, name="bench-ingest", scopes=[Scope.INGEST]
        ).secret


def run(engine: Engine, url: str, clients: int, seconds: float) -> dict[str, Any]:
    key = _setup(engine)
    now = datetime.now(UTC)
    batches = [_events(seed, now) for seed in range(DISTINCT_BODIES)]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(url, port), daemon=True)
    server.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        columns = _push(port, key, [_column_body(b) for b in batches], clients, seconds)
        rows = _push(port, key, [_row_body(b) for b in batches], clients, max(5.0, seconds / 3))
    finally:
        server.terminate()
        server.join(timeout=10)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT coalesce(sum(total), 0) FROM slo_minute_count")).scalar_one()
    copy_rate = _copy(engine, batches, rounds=3)
    events_per_second = columns["events"] / columns["seconds"]
    return {
        "benchmark": "ingest",
        "body": "columnar",
        "clients": clients,
        "server": "uvicorn, 1 worker, in a child process",
        "batch_events": BATCH,
        "seconds": round(columns["seconds"], 1),
        "events_accepted": columns["events"],
        "events_per_second": round(events_per_second),
        "errors": columns["errors"] + rows["errors"],
        "row_body_events_per_second": round(rows["events"] / rows["seconds"]),
        "copy_events_per_second": round(copy_rate),
        "ratio_to_copy": round(events_per_second / copy_rate, 3),
        # Each event counts once per SLO: the stored totals must add up to what was accepted.
        "stored_counts_match": int(stored) == 2 * (columns["events"] + rows["events"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="request-event ingestion over HTTP against COPY")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    arguments = parser.parse_args()
    with bench_database() as url:
        engine = create_engine(url)
        try:
            results = run(engine, url, clients=arguments.clients, seconds=arguments.seconds)
        finally:
            engine.dispose()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
