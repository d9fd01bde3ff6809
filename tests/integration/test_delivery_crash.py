"""A real `mlslo scheduler` process killed with SIGKILL around the delivery of an outbox notification.

The breach and its notification are written by the real evaluation in one committed transaction,
with no delivery running, so the alert waits in the outbox. Killed before it delivered anything, the
restarted process delivers the alert exactly once; killed while the receiver held the request (it
reached Slack, its answer was never recorded), the restarted process sends it again, the one resend
the outbox allows, and never a third time. Either way the notification ends `sent`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from app import migrations
from app.clock import SystemClock
from app.config import Settings
from app.db import SessionFactory, create_session_factory
from app.demo.slack_receiver import ReceivedMessage, SlackReceiver
from app.evaluation import service as evaluation_service
from app.measurements import repository as measurements_repository
from app.measurements.service import minute_start
from app.notifications.models import Notification
from tests.conftest import create_scratch_database
from tests.factories import create_slo, create_system

MLSLO = Path(sys.executable).parent / "mlslo"
FAST_DELIVERY = "0.2"
SLOW_DELIVERY = "3000"  # under an hour, so the first run waits one interval


@dataclass
class Outbox:
    url: str
    engine: Engine
    session_factory: SessionFactory
    notification_id: int

    def notification(self) -> Notification:
        with self.session_factory() as db_session:
            found = db_session.get(Notification, self.notification_id)
            assert found is not None
            return found


@pytest.fixture
def outbox(postgres_admin_url: str, tmp_path: Path) -> Iterator[Outbox]:
    """A scratch database holding one pending `fired` notification, written by the real evaluation."""
    url = create_scratch_database(postgres_admin_url, "mlslo_crash")
    engine = create_engine(url)
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    clock = SystemClock()
    settings = Settings(
        database_url=SecretStr(url),
        data_dir=tmp_path,
        slack_webhook_url=SecretStr("http://127.0.0.1:9/never-used-here"),
        public_url="http://mlslo.test",
        grafana_url="http://grafana.test",
    )
    with session_factory() as db_session:
        system = create_system(db_session, clock)
        slo = create_slo(db_session, clock, system)
        # Six healthy hours, then ten minutes with half the requests failing: a page.
        first = minute_start(clock.now()) - timedelta(minutes=370)
        measurements_repository.add_minute_counts(
            db_session=db_session,
            rows=[(slo.id, first + timedelta(minutes=m), 50 if m >= 360 else 100, 100) for m in range(370)],
        )
        report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=settings)
        db_session.commit()
    assert len(report.breaches_opened) == 1
    with session_factory() as db_session:
        notifications = db_session.scalars(select(Notification)).all()
    assert [(n.event, n.status, n.attempts) for n in notifications] == [("fired", "pending", 0)]
    yield Outbox(url, engine, session_factory, notifications[0].id)
    engine.dispose()


class Scheduler:
    """One `mlslo scheduler` process on the scratch database."""

    def __init__(self, url: str, tmp_path: Path, name: str, webhook_url: str, delivery_interval: str) -> None:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("MLSLO_")}
        environment.update(
            {
                "MLSLO_DATABASE_URL": url,
                "MLSLO_DATA_DIR": str(tmp_path),
                "MLSLO_SLACK_WEBHOOK_URL": webhook_url,
                "MLSLO_DELIVERY_INTERVAL_SECONDS": delivery_interval,
                "MLSLO_EVALUATION_INTERVAL_SECONDS": "3000",  # the test evaluated; the process only delivers
                "MLSLO_LOG_LEVEL": "INFO",
            }
        )
        self.log_path = tmp_path / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(MLSLO), "scheduler", "--no-migrate"], env=environment, stdout=log, stderr=log
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_started(self) -> None:
        _wait_for(lambda: "Scheduler started" in self.log(), "the scheduler to start", self)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def _wait_for(condition: Callable[[], bool], what: str, scheduler: Scheduler, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert scheduler.process.poll() is None, f"the scheduler exited:\n{scheduler.log()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{scheduler.log()}"
        time.sleep(0.05)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


class HoldFirst:
    """Keeps the first message's request open (recorded, not yet answered) until released."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._first = True
        self._lock = threading.Lock()

    def __call__(self, message: ReceivedMessage) -> None:
        with self._lock:
            first, self._first = self._first, False
        if first:
            self.arrived.set()
            self.release.wait(timeout=30)


def test_killed_before_delivering_the_restarted_process_delivers_exactly_once(
    outbox: Outbox, tmp_path: Path, closed_port: int
) -> None:
    with SlackReceiver() as receiver:
        # Killed right after startup, before its first delivery run.
        idle = Scheduler(outbox.url, tmp_path, "idle", receiver.webhook_url, SLOW_DELIVERY)
        try:
            idle.wait_started()
            idle.kill()
        finally:
            idle.stop()
        unchanged = outbox.notification()
        assert (unchanged.status, unchanged.attempts, receiver.requests_seen) == ("pending", 0, 0)

        # Killed while Slack was unreachable: its failed attempt is recorded, nothing was delivered.
        refused = Scheduler(
            outbox.url, tmp_path, "refused", f"http://127.0.0.1:{closed_port}/services/T/B/x", FAST_DELIVERY
        )
        try:
            _wait_for(lambda: outbox.notification().attempts >= 1, "a failed attempt", refused)
            refused.kill()
        finally:
            refused.stop()
        failed = outbox.notification()
        assert failed.status == "pending"
        assert failed.last_error == "transport error: ConnectError"
        assert receiver.requests_seen == 0

        # Restarted with Slack reachable: delivered once, after the backoff of the failed attempt.
        restarted = Scheduler(outbox.url, tmp_path, "restarted", receiver.webhook_url, FAST_DELIVERY)
        try:
            _wait_for(lambda: outbox.notification().status == "sent", "the delivery", restarted)
            time.sleep(1.0)  # five more delivery runs: nothing else goes out
        finally:
            restarted.stop()

    sent = outbox.notification()
    assert receiver.requests_seen == 1
    assert [m.payload for m in receiver.messages] == [sent.payload]
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", failed.attempts + 1, None)
    assert sent.delivered_at is not None
    assert sent.delivered_at >= failed.next_attempt_at
    assert "local-secret-token" not in restarted.log() + refused.log()


def test_killed_mid_delivery_the_alert_is_resent_at_most_once(outbox: Outbox, tmp_path: Path) -> None:
    hold = HoldFirst()
    with SlackReceiver(on_message=hold) as receiver:
        try:
            first = Scheduler(outbox.url, tmp_path, "first", receiver.webhook_url, FAST_DELIVERY)
            try:
                _wait_for(hold.arrived.is_set, "the request to reach Slack", first)
                # The request reached Slack; its answer is held, so nothing is recorded yet.
                in_flight = outbox.notification()
                assert (in_flight.status, in_flight.attempts) == ("pending", 0)
                first.kill()
            finally:
                first.stop()
        finally:
            hold.release.set()
        after_kill = outbox.notification()
        assert (after_kill.status, after_kill.attempts, after_kill.delivered_at) == ("pending", 0, None)

        second = Scheduler(outbox.url, tmp_path, "second", receiver.webhook_url, FAST_DELIVERY)
        try:
            _wait_for(lambda: outbox.notification().status == "sent", "the redelivery", second)
            time.sleep(1.0)  # five more delivery runs: no third copy
        finally:
            second.stop()

    sent = outbox.notification()
    # The in-flight copy and one after the restart: the only duplicate a crash can cause.
    assert receiver.requests_seen == 2
    assert [m.payload for m in receiver.messages] == [sent.payload, sent.payload]
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)
    assert sent.delivered_at is not None
