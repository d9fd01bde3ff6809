"""The Python client over real HTTP: against the real service (uvicorn on a socket, its own
database), and against a small scripted HTTP server for retries, 429, 5xx and refusals.

Job runs are checked both against the real job-runs endpoint (counts in the job SLOs) and
against the scripted server, which records the exact body."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import create_engine

from app import migrations
from app.auth.service import Scope
from app.client import JobRun, MlsloClient, MlsloClientError, MlsloDeliveryError, RequestEvent
from app.clock import ManualClock
from app.config import Settings
from app.migrations import PROJECT_ROOT
from app.runtime import build_service, open_database
from tests.conftest import TEST_START, create_scratch_database, make_key

DEFINITIONS = PROJECT_ROOT / "slo_definitions" / "recommender"


# --- A scripted HTTP peer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = field(default_factory=lambda: {"accepted": True})
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    path: str
    authorization: str | None
    body: Any


class ScriptedServer:
    """Answers the next requests with the scripted answers (then 202), recording every request."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer_next_with(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with server._lock:
                    server.received.append(
                        Received(self.path, self.headers.get("Authorization"), json.loads(body))
                    )
                    answer = server._script.popleft() if server._script else Answer(202)
                encoded = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


@pytest.fixture
def peer() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _client(url: str, sleeps: list[float], **options: Any) -> MlsloClient:
    return MlsloClient(
        url,
        api_key="mlslo_test",
        system="recommender",
        sleep=sleeps.append,
        now=lambda: TEST_START,
        **options,
    )


def _at(minutes_before: int) -> datetime:
    return TEST_START - timedelta(minutes=minutes_before)


# --- The real service --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveService:
    url: str
    admin: dict[str, str]
    ingest_key: str
    clock: ManualClock


@pytest.fixture
def live_service(postgres_admin_url: str, tmp_path: Path) -> Iterator[LiveService]:
    database_url = create_scratch_database(postgres_admin_url, "mlslo_client")
    engine = create_engine(database_url)
    migrations.upgrade(engine)
    engine.dispose()
    settings = Settings(
        database_url=SecretStr(database_url),
        data_dir=tmp_path,
        # Promotion needs an alert route; no scheduler runs here, so nothing is ever delivered.
        slack_webhook_url=SecretStr("http://127.0.0.1:9/services/T000/B000/unused"),
        public_url="http://mlslo.test",
        grafana_url="http://grafana.test",
    )
    clock = ManualClock(TEST_START)
    database = open_database(settings)
    app = build_service(settings, database, clock=clock, with_scheduler=False)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        admin = {"Authorization": f"Bearer {make_key(database.session_factory, clock, 'admin', Scope.ADMIN)}"}
        with httpx.Client(base_url=url, headers=admin) as http:
            registered = http.post(
                "/api/v1/systems",
                json={
                    "name": "recommender",
                    "description": "Job recommendations",
                    "service_owner": {"name": "web-platform", "slack_channel": "#recs-oncall"},
                    "model_owner": {"name": "ml-recs", "slack_channel": "#recs-ml"},
                },
            )
            assert registered.status_code == 201, registered.text
            files = [
                {"path": f"recommender/{path.name}", "content": path.read_text()}
                for path in sorted(DEFINITIONS.glob("*.yaml"))
            ]
            applied = http.post("/api/v1/slo-definitions/apply", json={"files": files})
            assert applied.status_code == 200, applied.text
            promoted = http.post(
                "/api/v1/systems/recommender/phase", json={"phase": "production", "reason": "launch"}
            )
            assert promoted.status_code == 201, promoted.text
        ingest_key = make_key(
            database.session_factory, clock, "recs-ingest", Scope.INGEST, system="recommender"
        )
        yield LiveService(url=url, admin=admin, ingest_key=ingest_key, clock=clock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        database.engine.dispose()


def test_pushed_requests_reach_the_slos(live_service: LiveService) -> None:
    posts: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [posts.append]})
    errors = slow = 0
    with MlsloClient(
        live_service.url,
        api_key=live_service.ingest_key,
        system="recommender",
        batch_size=300,
        http_client=http,
        now=live_service.clock.now,
    ) as client:
        for i in range(1_000):
            failed, is_slow = i % 50 == 0, i % 20 == 1
            errors += failed
            slow += is_slow
            client.record_request(
                latency_ms=450.0 if is_slow else 80.0,
                succeeded=not failed,
                time=_at(60) + timedelta(seconds=3 * i),
            )
        assert client.pending == 100  # three full batches went out as they filled
        assert len(posts) == 3
    # The last batch went on exit.
    assert len(posts) == 4
    assert client.unsent == []
    assert json.loads(posts[0].content).keys() == {"time", "latency_ms", "outcome"}  # columnar
    http.close()

    with httpx.Client(base_url=live_service.url, headers=live_service.admin) as admin:
        assert admin.post("/api/v1/evaluations").status_code == 200
        slos = {slo["name"]: slo["status"] for slo in admin.get("/api/v1/systems/recommender/slos").json()}
    assert (slos["api-availability"]["total_events"], slos["api-availability"]["bad_events"]) == (
        1_000,
        errors,
    )
    assert (slos["api-latency"]["total_events"], slos["api-latency"]["bad_events"]) == (1_000, slow)


def test_pushed_job_runs_reach_the_job_slos(live_service: LiveService) -> None:
    with MlsloClient(
        live_service.url, api_key=live_service.ingest_key, system="recommender", now=live_service.clock.now
    ) as client:
        for night, succeeded in enumerate([True, False, True]):
            client.record_job_run(
                job="build-recommendations",
                started_at=_at(60 * 24 * (3 - night) + 90),
                finished_at=_at(60 * 24 * (3 - night)),
                succeeded=succeeded,
                rows_processed=1_000_000,
            )
    with httpx.Client(base_url=live_service.url, headers=live_service.admin) as admin:
        assert admin.post("/api/v1/evaluations").status_code == 200
        slos = {slo["name"]: slo["status"] for slo in admin.get("/api/v1/systems/recommender/slos").json()}
    status = slos["nightly-build-success"]
    assert (status["total_events"], status["bad_events"]) == (3, 1)


def test_a_refused_batch_raises_with_the_field_at_fault(live_service: LiveService) -> None:
    client = MlsloClient(
        live_service.url, api_key=live_service.ingest_key, system="recommender", now=live_service.clock.now
    )
    client.record_request(latency_ms=10.0, succeeded=True, time=_at(5))
    client.record_request(latency_ms=10.0, succeeded=True, time=TEST_START + timedelta(days=1))
    with pytest.raises(MlsloClientError) as raised:
        client.flush()
    assert raised.value.status_code == 422
    assert raised.value.fields == ("events.1.time",)
    assert "in the future" in str(raised.value)
    assert not isinstance(raised.value, MlsloDeliveryError)
    assert len(raised.value.events) == 2
    assert client.unsent == []
    assert client.pending == 0

    wrong_system = MlsloClient(live_service.url, api_key=live_service.ingest_key, system="other")
    wrong_system.record_request(latency_ms=10.0, succeeded=True, time=_at(5))
    with pytest.raises(MlsloClientError) as refused:
        wrong_system.close()
    assert refused.value.status_code in {403, 404}
    client.close()


# --- Retries, refusals and job runs against a scripted peer -----------------------------------------


def test_job_runs_are_sent_as_the_job_runs_body(peer: ScriptedServer, sleeps: list[float]) -> None:
    with _client(peer.url, sleeps) as client:
        client.record_job_run(
            job="nightly-build",
            started_at=_at(90),
            finished_at=_at(30),
            succeeded=True,
            rows_processed=10_000,
        )
        client.record_job_run(
            job="nightly-build",
            started_at=datetime(2026, 1, 5, 6, 0, tzinfo=UTC).astimezone(),  # any zone, sent in UTC
            finished_at=_at(20),
            succeeded=False,
        )
        assert peer.received == []
    [received] = peer.received
    assert received.path == "/api/v1/systems/recommender/job-runs"
    assert received.authorization == "Bearer mlslo_test"
    assert received.body == {
        "runs": [
            {
                "job": "nightly-build",
                "started_at": "2026-01-05T10:30:00+00:00",
                "finished_at": "2026-01-05T11:30:00+00:00",
                "outcome": "success",
                "rows_processed": 10_000,
            },
            {
                "job": "nightly-build",
                "started_at": "2026-01-05T06:00:00+00:00",
                "finished_at": "2026-01-05T11:40:00+00:00",
                "outcome": "failure",
            },
        ]
    }


def test_retries_5xx_and_429_with_backoff_and_retry_after(peer: ScriptedServer, sleeps: list[float]) -> None:
    peer.answer_next_with(
        Answer(503, {"detail": "unavailable"}),
        Answer(429, {"detail": "slow down"}, {"Retry-After": "7"}),
        Answer(500, {"detail": "boom"}),
    )
    client = _client(peer.url, sleeps)
    client.record_request(latency_ms=12.5, succeeded=False)
    client.flush()
    assert sleeps == [0.5, 7.0, 2.0]
    assert len(peer.received) == 4
    assert all(r.body == peer.received[0].body for r in peer.received)
    assert peer.received[0].body == {
        "time": [TEST_START.isoformat()],
        "latency_ms": [12.5],
        "outcome": ["error"],
    }
    assert client.unsent == []
    client.close()


def test_retry_after_as_an_http_date(peer: ScriptedServer, sleeps: list[float]) -> None:
    later = format_datetime(TEST_START + timedelta(seconds=42), usegmt=True)
    peer.answer_next_with(Answer(429, headers={"Retry-After": later}))
    with _client(peer.url, sleeps) as client:
        client.record_request(latency_ms=1.0, succeeded=True)
    assert sleeps == [42.0]


def test_a_batch_that_finally_fails_is_kept_in_unsent(peer: ScriptedServer, sleeps: list[float]) -> None:
    peer.answer_next_with(*[Answer(502, {"detail": "bad gateway"})] * 3)
    client = _client(peer.url, sleeps, max_attempts=3, batch_size=2)
    client.record_request(latency_ms=0.0, succeeded=True, time=_at(10))
    with pytest.raises(MlsloDeliveryError) as raised:  # the second event fills a batch, which fails
        client.record_request(latency_ms=1.0, succeeded=True, time=_at(9))
    assert raised.value.attempts == 3
    assert raised.value.status_code == 502
    assert sleeps == [0.5, 1.0]
    assert [event.latency_ms for event in client.unsent if isinstance(event, RequestEvent)] == [0.0, 1.0]

    # The next events buffer as usual; the next flush sends the unsent ones first, in order.
    client.record_request(latency_ms=2.0, succeeded=True, time=_at(8))
    assert client.pending == 1
    client.flush()
    assert [r.body["latency_ms"] for r in peer.received[3:]] == [[0.0, 1.0], [2.0]]
    assert client.unsent == []
    assert client.pending == 0
    client.close()


def test_a_retry_after_beyond_the_limit_fails_at_once(peer: ScriptedServer, sleeps: list[float]) -> None:
    peer.answer_next_with(Answer(429, headers={"Retry-After": "3600"}))
    client = _client(peer.url, sleeps, max_retry_after_s=60.0)
    client.record_job_run(job="j", started_at=_at(2), finished_at=_at(1), succeeded=True)
    with pytest.raises(MlsloDeliveryError) as raised:
        client.flush()
    assert raised.value.attempts == 1
    assert sleeps == []
    assert client.unsent == [JobRun("j", _at(2), _at(1), True)]
    assert client.discard_unsent() == [JobRun("j", _at(2), _at(1), True)]
    assert client.unsent == []
    client.close()


def test_connection_errors_are_retried_then_kept(sleeps: list[float]) -> None:
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = _client(f"http://127.0.0.1:{port}", sleeps, max_attempts=4, backoff_initial_s=1.0)
    client.record_request(latency_ms=5.0, succeeded=True)
    with pytest.raises(MlsloDeliveryError, match="ConnectError") as raised:
        client.flush()
    assert raised.value.status_code is None
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(client.unsent) == 1


def test_a_4xx_is_not_retried_and_names_the_field(peer: ScriptedServer, sleeps: list[float]) -> None:
    detail = [{"type": "missing", "loc": ["body", "runs", 0, "job"], "msg": "Field required"}]
    peer.answer_next_with(Answer(422, {"detail": detail}))
    client = _client(peer.url, sleeps)
    client.record_job_run(job="j", started_at=_at(2), finished_at=_at(1), succeeded=True)
    with pytest.raises(MlsloClientError, match=r"runs\.0\.job: Field required") as raised:
        client.flush()
    assert raised.value.fields == ("runs.0.job",)
    assert raised.value.detail == detail
    assert len(peer.received) == 1
    assert sleeps == []
    assert client.unsent == []
    assert client.pending == 0
    client.close()


def test_exit_after_an_error_keeps_the_error_and_the_events(sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = _client(f"http://127.0.0.1:{port}", sleeps, max_attempts=1)

    def push_then_fail() -> None:
        with client:
            client.record_request(latency_ms=5.0, succeeded=True)
            raise KeyError("the system's own error")

    with pytest.raises(KeyError):
        push_then_fail()
    assert len(client.unsent) == 1


def test_times_must_be_timezone_aware_and_values_sane(peer: ScriptedServer, sleeps: list[float]) -> None:
    client = _client(peer.url, sleeps)
    naive = datetime(2026, 1, 5, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        client.record_request(latency_ms=1.0, succeeded=True, time=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        client.record_job_run(job="j", started_at=naive, finished_at=_at(0), succeeded=True)
    with pytest.raises(ValueError, match="latency_ms"):
        client.record_request(latency_ms=float("nan"), succeeded=True)
    with pytest.raises(ValueError, match="before started_at"):
        client.record_job_run(job="j", started_at=_at(0), finished_at=_at(1), succeeded=True)
    with pytest.raises(ValueError, match="batch_size"):
        _client(peer.url, sleeps, batch_size=10_001)
    assert client.pending == 0
    client.close()
    assert peer.received == []


def test_predictions_labels_and_retrains_reach_the_ml_slos(live_service: LiveService) -> None:
    posts: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [posts.append]})
    truth = [i % 3 != 0 for i in range(120)]  # a third of the recommendations were not opened
    with MlsloClient(
        live_service.url,
        api_key=live_service.ingest_key,
        system="recommender",
        batch_size=50,
        http_client=http,
        now=live_service.clock.now,
    ) as client:
        for i in range(120):
            client.record_prediction(
                prediction_id=f"rec-{i}", model_version="v7", label=True, score=0.8, time=_at(180 - i)
            )
        for i in range(120):
            client.record_label(prediction_id=f"rec-{i}", label=truth[i])
        # Labels filled a batch while predictions were buffered: the predictions went first.
        assert [request.url.path.rsplit("/", 1)[1] for request in posts] == [
            "predictions",
            "predictions",
            "predictions",
            "labels",
            "labels",
        ]
        first = client.register_model_version(
            version="v7",
            trained_at=_at(600),
            metrics={"accuracy": 0.71},
            evaluation_set="seekers-2026-01",
            evaluation_predictions=[1, 2, 3, 4, 5],
            serving=True,
        )
        second = client.register_model_version(
            version="v8",
            trained_at=_at(60),
            metrics={"accuracy": 0.72},
            evaluation_set="seekers-2026-01",
            evaluation_predictions=[1, 2, 3, 4, 9],
        )
    assert (first["version"], second["version"]) == ("v7", "v8")
    assert client.unsent == []
    http.close()

    with httpx.Client(base_url=live_service.url, headers=live_service.admin) as admin:
        assert admin.post("/api/v1/evaluations").status_code == 200
        slos = {slo["name"]: slo["status"] for slo in admin.get("/api/v1/systems/recommender/slos").json()}
        churn = admin.get("/api/v1/systems/recommender/slos/retrain-stability/samples").json()
    accuracy = slos["recommendation-accuracy"]
    assert (accuracy["total_events"], accuracy["bad_events"]) == (120, truth.count(False))
    # v8 changed one of five predictions on the evaluation set.
    assert [(s["model_version"], s["value"]) for s in churn] == [(None, 0.2), ("v8", 0.2)]
