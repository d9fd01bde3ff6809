"""/readyz answers 503 while the database cannot be reached."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.clock import ManualClock
from app.config import Settings
from app.db import create_session_factory
from app.main import AppDependencies, create_app


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_readyz_fails_while_the_database_is_unreachable(settings: Settings, clock: ManualClock) -> None:
    engine = create_engine(
        f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/none", connect_args={"connect_timeout": 2}
    )
    app = create_app(
        AppDependencies(
            settings=settings, engine=engine, session_factory=create_session_factory(engine), clock=clock
        )
    )
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "not ready", "database": "unreachable"}
