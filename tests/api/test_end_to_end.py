"""The whole loop through the public interfaces only: keys from the CLI, then register, apply,
promote, ingest, evaluate, Slack alert to a real local receiver, breach, resolution, postmortem.

It runs the real service (API and scheduler) on a database of its own, since the scheduler's
threads need their own connections; the clock is injected and moved by the test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine
from typer.testing import CliRunner

from app import migrations
from app.cli import cli
from app.clock import ManualClock
from app.config import Settings, get_settings
from app.demo.slack_receiver import SlackReceiver
from app.migrations import PROJECT_ROOT
from app.runtime import build_service, open_database
from tests.conftest import TEST_START, create_scratch_database

DEFINITIONS = PROJECT_ROOT / "slo_definitions" / "recommender"


@pytest.fixture
def service_database_url(postgres_admin_url: str) -> str:
    url = create_scratch_database(postgres_admin_url, "mlslo_e2e")
    engine = create_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    return url


def _cli_key(monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str) -> str:
    monkeypatch.setenv("MLSLO_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["keys", "create", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _events(
    start: Any, minutes: int, per_minute: int, error_every: int | None, slow_every: int | None = None
) -> list[dict[str, Any]]:
    events = []
    for minute in range(minutes):
        for i in range(per_minute):
            events.append(
                {
                    "time": (start + timedelta(minutes=minute, seconds=i * 60 / per_minute)).isoformat(),
                    "latency_ms": 900.0 if slow_every and i % slow_every == 0 else 120.0,
                    "outcome": "error" if error_every and i % error_every == 0 else "success",
                }
            )
    return events


def _push(client: TestClient, headers: dict[str, str], events: list[dict[str, Any]]) -> None:
    for offset in range(0, len(events), 10_000):
        response = client.post(
            "/api/v1/systems/recommender/request-events",
            headers=headers,
            json={"events": events[offset : offset + 10_000]},
        )
        assert response.status_code == 202, response.text


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the scheduler"
        time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[SlackReceiver]:
    with SlackReceiver() as running:
        yield running


def test_file_to_slack_to_postmortem(
    monkeypatch: pytest.MonkeyPatch, service_database_url: str, receiver: SlackReceiver, tmp_path: Path
) -> None:
    admin_key = _cli_key(monkeypatch, service_database_url, "--name", "e2e-admin", "--scope", "admin")
    admin = {"Authorization": f"Bearer {admin_key}"}
    settings = Settings(
        database_url=SecretStr(service_database_url),
        data_dir=tmp_path,
        slack_webhook_url=SecretStr(receiver.webhook_url),
        public_url="http://mlslo.test",
        grafana_url="http://grafana.test",
        evaluation_interval_seconds=3600,  # the test evaluates through the API
        delivery_interval_seconds=0.05,
    )
    clock = ManualClock(TEST_START)
    database = open_database(settings)
    app = build_service(settings, database, clock=clock, with_scheduler=True)

    with TestClient(app) as client:
        # Register the system and apply its SLO files.
        registered = client.post(
            "/api/v1/systems",
            headers=admin,
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
        applied = client.post("/api/v1/slo-definitions/apply", headers=admin, json={"files": files})
        assert applied.status_code == 200, applied.text
        assert "recommender/production/api-availability" in applied.json()["created"]

        promoted = client.post(
            "/api/v1/systems/recommender/phase",
            headers=admin,
            json={"phase": "production", "reason": "launch"},
        )
        assert promoted.status_code == 201, promoted.text
        in_force = client.get("/api/v1/systems/recommender/slos", headers=admin).json()
        assert {"api-availability", "api-latency"} <= {slo["name"] for slo in in_force}
        assert {slo["phase"] for slo in in_force} == {"production"}

        # The system's ingest key pushes traffic but cannot change SLOs.
        ingest_key = _cli_key(
            monkeypatch,
            service_database_url,
            "--name",
            "recs-ingest",
            "--scope",
            "ingest",
            "--system",
            "recommender",
        )
        ingest = {"Authorization": f"Bearer {ingest_key}"}
        assert (
            client.post("/api/v1/slo-definitions/apply", headers=ingest, json={"files": files}).status_code
            == 403
        )

        # Two healthy hours, then 15 minutes where 1 request in 5 fails.
        start = clock.now()
        _push(client, ingest, _events(start - timedelta(hours=2), 120, 100, error_every=None))
        clock.advance(timedelta(minutes=15))
        _push(client, ingest, _events(start, 15, 100, error_every=5))

        run = client.post("/api/v1/evaluations", headers=admin)
        assert run.status_code == 200, run.text
        assert len(run.json()["breaches_opened"]) == 1
        _wait_for(lambda: len(receiver.messages) == 1)
        fired = receiver.messages[0].payload
        assert fired["blocks"][0]["text"]["text"] == "PAGE · recommender · api-availability · FIRING"
        assert "threshold 14.4x" in str(fired["blocks"][2])

        breaches = client.get("/api/v1/breaches", headers=admin, params={"open": "true"}).json()
        assert [(b["slo"], b["severity"], b["resolved_at"]) for b in breaches] == [
            ("api-availability", "page", None)
        ]
        status = client.get("/api/v1/systems/recommender/slos/api-availability", headers=admin).json()[
            "status"
        ]
        assert status["alert_severity"] == "page"
        # 15 min x 20 bad over 135 min x 100 events, against a 0.1% budget.
        assert status["error_budget_remaining"] == pytest.approx(1 - 300 / (0.001 * 13_500))
        assert (status["bad_events"], status["total_events"]) == (300, 13_500)

        # Seven healthy hours later the breach resolves and Slack hears so.
        clock.advance(timedelta(hours=7))
        _push(client, ingest, _events(clock.now() - timedelta(hours=7), 7 * 60, 50, error_every=None))
        resolved = client.post("/api/v1/evaluations", headers=admin).json()
        assert resolved["breaches_resolved"] == [breaches[0]["id"]]
        # No Prometheus answers the freshness SLO's query: past its two allowed hours, its data is
        # missing, which opens a ticket of its own rather than burning or sparing its budget.
        (missing_id,) = resolved["breaches_opened"]
        missing = client.get(f"/api/v1/breaches/{missing_id}", headers=admin).json()
        assert (missing["slo"], missing["severity"]) == ("recommendations-freshness", "ticket")
        assert missing["opening_details"]["rule"] == "data_missing"
        _wait_for(lambda: len(receiver.messages) == 3)
        resolved_messages = [
            m for m in receiver.messages if "RESOLVED" in m.payload["blocks"][0]["text"]["text"]
        ]
        assert len(resolved_messages) == 1
        assert "api-availability" in resolved_messages[0].payload["blocks"][0]["text"]["text"]
        assert "of the error budget" in resolved_messages[0].payload["text"]

        # The message's "Write a postmortem" button leads to a draft for the breach; completed
        # and posted, the postmortem shows the budget the breach consumed.
        buttons = {b["text"]["text"]: b["url"] for b in resolved_messages[0].payload["blocks"][4]["elements"]}
        draft_url = buttons["Write a postmortem"].removeprefix("http://mlslo.test")
        draft = client.get(draft_url, headers=admin)
        assert draft.status_code == 200, draft.text
        assert draft.json()["breach_ids"] == [breaches[0]["id"]]
        assert "of the error budget" in draft.json()["impact"]
        assert [entry["event"] for entry in draft.json()["timeline"]] == [
            "page alert fired for api-availability",
            "alert for api-availability resolved",
        ]
        created = client.post("/api/v1/postmortems", headers=admin, json={**draft.json(), "summary": "OOM"})
        assert created.status_code == 201, created.text
        postmortem = client.get(f"/api/v1/postmortems/{created.json()['id']}", headers=admin).json()
        impact = postmortem["breaches"][0]
        assert impact["resolved_at"] is not None
        assert impact["budget_consumed_share"] > 0
        assert impact["budget_consumed_share"] == pytest.approx(
            impact["bad_events"] / (0.001 * impact["period_total_events"])
        )

        # Prometheus sees the same status.
        metrics = client.get("/metrics").text
        assert (
            'mlslo_slo_error_budget_remaining_ratio{phase="production",slo="api-availability",system="recommender"}'
            in metrics
        )
        notifications = client.get("/api/v1/notifications", headers=admin).json()
        assert [n["status"] for n in notifications] == ["sent", "sent", "sent"]
        assert receiver.webhook_url not in str(notifications)
    database.engine.dispose()
