"""The demo scenario: the real service (API, scheduler, Postgres) with a simulated recommender
whose traffic has an incident in it, sped up by an accelerated clock. Alerts go to a local
Slack-compatible receiver unless a real webhook is configured; a postmortem is written at the end."""

from __future__ import annotations

import random
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

from app.auth import service as auth_service
from app.auth.service import Scope
from app.clock import AcceleratedClock
from app.config import Settings
from app.db import EmbeddedPostgres, create_db_engine, create_session_factory, embedded_postgres, transaction
from app.demo.slack_receiver import ReceivedMessage, SlackReceiver
from app.migrations import PROJECT_ROOT, upgrade
from app.runtime import Database, build_service
from app.slos.loader import definition_sources

DEMO_DATABASE = "mlslo_demo"
DEMO_SYSTEM = "recommender"
REQUESTS_PER_MINUTE = 20
# Three days of healthy history give the 30-day budget enough events to mean something.
WARM_UP = timedelta(days=3)
INCIDENT_START = timedelta(minutes=30)
INCIDENT_LENGTH = timedelta(minutes=20)
INCIDENT_ERROR_RATIO = 0.1
HEALTHY_ERROR_RATIO = 0.0001
# Long enough after the incident for the page windows to clear and the breaches to resolve.
SCENARIO_LENGTH = INCIDENT_START + INCIDENT_LENGTH + timedelta(hours=2)
EVALUATION_EVERY_SIMULATED = timedelta(minutes=5)
TRAFFIC_EVERY_REAL_SECONDS = 0.2
# The model's recommendations in the scenario, and the share whose click labels have arrived.
PREDICTIONS = 600
LABELLED_SHARE = 0.8


@dataclass(frozen=True)
class TrafficModel:
    """Healthy traffic: 0.01% errors, latencies around 120 ms. During the incident a share of
    requests fail and the rest slow down, as when a model server runs out of memory."""

    start: datetime
    rng: random.Random

    def in_incident(self, moment: datetime) -> bool:
        offset = moment - self.start
        return INCIDENT_START <= offset < INCIDENT_START + INCIDENT_LENGTH

    def events(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        count = int((until - since).total_seconds() / 60 * REQUESTS_PER_MINUTE)
        events = []
        for _ in range(count):
            moment = since + (until - since) * self.rng.random()
            incident = self.in_incident(moment)
            error_ratio = INCIDENT_ERROR_RATIO if incident else HEALTHY_ERROR_RATIO
            latency = self.rng.lognormvariate(4.8, 0.3) * (4 if incident else 1)
            events.append(
                {
                    "time": moment.isoformat(),
                    "latency_ms": round(latency, 1),
                    "outcome": "error" if self.rng.random() < error_ratio else "success",
                }
            )
        return events


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _say(echo: bool, text: str) -> None:
    if echo:
        print(text, file=sys.stderr, flush=True)


def _print_slack_message(message: ReceivedMessage) -> None:
    header = message.payload.get("blocks", [{}])[0].get("text", {}).get("text", "")
    print(f"\n[slack] {header}\n        {message.payload['text']}", file=sys.stderr, flush=True)


def run_demo(settings: Settings, *, speed: float, keep_serving: bool, echo: bool) -> dict[str, Any]:
    wall_start = time.monotonic()
    server: EmbeddedPostgres = embedded_postgres(settings.data_dir)
    # A database of its own, recreated each run, so the demo never touches the user's data.
    server.drop_database(DEMO_DATABASE)
    engine = create_db_engine(server.url(DEMO_DATABASE))
    upgrade(engine)
    database = Database(engine=engine, session_factory=create_session_factory(engine))
    _say(echo, f"embedded Postgres ready in {server.data_dir}; database {DEMO_DATABASE!r} migrated")

    receiver = SlackReceiver(on_message=_print_slack_message if echo else None)
    with receiver:
        webhook = settings.slack_webhook_url or SecretStr(receiver.webhook_url)
        port = _free_port()
        clock = AcceleratedClock(start=datetime.now(UTC), speed=speed)
        interval = EVALUATION_EVERY_SIMULATED.total_seconds() / speed
        demo_settings = settings.model_copy(
            update={
                "slack_webhook_url": webhook,
                "public_url": f"http://127.0.0.1:{port}",
                "evaluation_interval_seconds": interval,
                "delivery_interval_seconds": interval,
            }
        )
        app = build_service(demo_settings, database, clock=clock)
        uvicorn_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=uvicorn_server.run, name="mlslo-api", daemon=True)
        thread.start()
        while not uvicorn_server.started:
            time.sleep(0.02)
        _say(
            echo,
            f"mlslo API on http://127.0.0.1:{port} (simulated clock x{speed:g}); alerts to {_slack_target(settings)}",
        )
        try:
            summary = _scenario(database, demo_settings, clock, port, echo)
            if keep_serving:
                _say(echo, "scenario done; the service keeps running (Ctrl-C to stop)")
                while thread.is_alive():
                    time.sleep(1)
        finally:
            uvicorn_server.should_exit = True
            thread.join(timeout=10)
    engine.dispose()
    summary["wall_seconds"] = round(time.monotonic() - wall_start, 1)
    summary["slack_receiver"] = "configured webhook" if settings.slack_webhook_url else "local receiver"
    summary["local_receiver_messages"] = len(receiver.messages)
    return summary


def _slack_target(settings: Settings) -> str:
    return (
        "the configured Slack webhook" if settings.slack_webhook_url else "a local Slack-compatible receiver"
    )


def _scenario(
    database: Database, settings: Settings, clock: AcceleratedClock, port: int, echo: bool
) -> dict[str, Any]:
    with transaction(database.session_factory) as db_session:
        admin_key = auth_service.create_key(
            db_session=db_session, clock=clock, name="demo-admin", scopes=[Scope.ADMIN]
        ).secret
    admin = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30) as api:
        _check(api.post("/systems", headers=admin, json=_system_body()))
        with transaction(database.session_factory) as db_session:
            ingest_key = auth_service.create_key(
                db_session=db_session,
                clock=clock,
                name="demo-ingest",
                scopes=[Scope.INGEST],
                system_name=DEMO_SYSTEM,
            ).secret
        ingest = {"Authorization": f"Bearer {ingest_key}"}
        sources = definition_sources(_definitions_dir(settings) / DEMO_SYSTEM)
        applied = _check(
            api.post(
                "/slo-definitions/apply",
                headers=admin,
                json={"files": [{"path": path, "content": text} for path, text in sources]},
            )
        )
        _say(echo, f"applied {len(sources)} SLO files: created {applied['created']}")
        _check(
            api.post(
                f"/systems/{DEMO_SYSTEM}/phase",
                headers=admin,
                json={"phase": "production", "reason": "demo: launch after technical validation"},
            )
        )
        _say(echo, "recommender promoted to production; its production SLOs are in force")

        history_end = clock.now()
        rng = random.Random(7)
        # Healthy history first, pushed as a backfill.
        _push(
            api, ingest, TrafficModel(start=history_end, rng=rng).events(history_end - WARM_UP, history_end)
        )
        # The scenario starts once the backfill is in: simulated time ran on while it was sent.
        start = clock.now()
        traffic = TrafficModel(start=start, rng=rng)
        sent_until = history_end
        _say(
            echo, f"pushed {WARM_UP.days} days of healthy history; live traffic from simulated {start:%H:%M}"
        )
        announced_incident = False
        while True:
            time.sleep(TRAFFIC_EVERY_REAL_SECONDS)
            now = clock.now()
            if now - start >= SCENARIO_LENGTH:
                break
            if not announced_incident and traffic.in_incident(now):
                _say(
                    echo,
                    f"incident starts at simulated {now:%H:%M}: {INCIDENT_ERROR_RATIO:.0%} of requests fail",
                )
                announced_incident = True
            _push(api, ingest, traffic.events(sent_until, now))
            sent_until = now

        ml = _model_story(api, ingest, admin, start, clock.now(), rng)
        _say(
            echo,
            f"model recs-v7: accuracy {ml['accuracy']:.1%} on {ml['labelled']} labelled of "
            f"{ml['predictions']} predictions; retrain churn against recs-v6 {ml['retrain_churn']:.1%}",
        )
        _wait_for_quiet(api, admin)
        breaches = _check(api.get("/breaches", headers=admin, params={"system": DEMO_SYSTEM}))
        # The postmortem covers the incident's pages; other alerts (a collector with no source
        # configured in the demo, say) are not part of it.
        incident = [breach for breach in breaches if breach["severity"] == "page"]
        postmortems = []
        if incident:
            postmortems.append(
                _check(api.post("/postmortems", headers=admin, json=_postmortem_body(incident)))
            )
            _say(
                echo, f"postmortem #{postmortems[0]['id']} written for breaches {[b['id'] for b in incident]}"
            )
        slos = _check(api.get(f"/systems/{DEMO_SYSTEM}/slos", headers=admin))
        systems = _check(api.get("/systems", headers=admin))
        notifications = _check(api.get("/notifications", headers=admin))
    return {
        "systems": [{"name": s["name"], "phase": s["phase"]} for s in systems],
        "slos": [
            {
                "name": s["name"],
                "objective": s["objective"],
                "window": s["window"],
                "sli": s["status"]["sli"] if s["status"] else None,
                "error_budget_remaining": s["status"]["error_budget_remaining"] if s["status"] else None,
            }
            for s in slos
        ],
        "alerts_sent": sum(1 for n in notifications if n["status"] == "sent"),
        "alerts": [
            {"breach_id": n["breach_id"], "event": n["event"], "status": n["status"]}
            for n in reversed(notifications)
        ],
        "breaches": [
            {
                "id": b["id"],
                "slo": b["slo"],
                "severity": b["severity"],
                "opened_at": b["opened_at"],
                "resolved_at": b["resolved_at"],
                "budget_consumed_share": round(b["budget_consumed_share"], 4),
                "postmortem_required": b["postmortem_required"],
            }
            for b in breaches
        ],
        "postmortems": [
            {
                "id": p["id"],
                "title": p["title"],
                "breach_ids": p["breach_ids"],
                "total_budget_consumed_share": round(p["total_budget_consumed_share"], 4),
            }
            for p in postmortems
        ],
        "ml": ml,
        "simulated_hours": round((clock.now() - start).total_seconds() / 3600, 2),
        "speed": clock.speed,
    }


def _model_story(
    api: httpx.Client,
    ingest: dict[str, str],
    admin: dict[str, str],
    start: datetime,
    end: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    """The model's side: a retrain registered against the previous version on a fixed evaluation
    set, then the scenario's recommendations served by it, and their click labels, which arrive
    later and for most (not all) of them."""
    evaluation_labels = [rng.random() < 0.5 for _ in range(200)]
    previous = [label if rng.random() < 0.9 else not label for label in evaluation_labels]
    current = [guess if rng.random() < 0.97 else not guess for guess in previous]
    for version, guesses, trained in (
        ("recs-v6", previous, start - timedelta(days=8)),
        ("recs-v7", current, start - timedelta(days=1)),
    ):
        accuracy = sum(g == y for g, y in zip(guesses, evaluation_labels, strict=True)) / len(guesses)
        _check(
            api.post(
                f"/systems/{DEMO_SYSTEM}/model-versions",
                headers=ingest,
                json={
                    "version": version,
                    "trained_at": trained.isoformat(),
                    "metrics": {"accuracy": accuracy},
                    "evaluation_set": {
                        "name": "seekers-2026q1",
                        "predictions": guesses,
                        "labels": evaluation_labels,
                    },
                    "serving": version == "recs-v7",
                },
            )
        )
    served = []
    for i in range(PREDICTIONS):
        moment = start + (end - start) * (i / PREDICTIONS)
        opened = rng.random() < 0.93
        served.append((f"rec-{i}", moment, opened))
    _check(
        api.post(
            f"/systems/{DEMO_SYSTEM}/predictions",
            headers=ingest,
            json={
                "predictions": [
                    {
                        "id": pid,
                        "time": moment.isoformat(),
                        "model_version": "recs-v7",
                        "label": True,
                        "score": 0.8,
                    }
                    for pid, moment, _ in served
                ]
            },
        )
    )
    labelled = [(pid, opened) for pid, _, opened in served if rng.random() < LABELLED_SHARE]
    _check(
        api.post(
            f"/systems/{DEMO_SYSTEM}/labels",
            headers=ingest,
            json={"labels": [{"prediction_id": pid, "label": opened} for pid, opened in labelled]},
        )
    )
    quality = _check(
        api.get(
            f"/systems/{DEMO_SYSTEM}/slos/recommendation-accuracy/quality",
            headers=admin,
            params={"from": start.isoformat(), "to": end.isoformat()},
        )
    )["overall"]
    churn = _check(api.get(f"/systems/{DEMO_SYSTEM}/slos/retrain-stability/samples", headers=admin))
    return {
        "predictions": quality["predictions"],
        "labelled": quality["labelled"],
        "labelled_share": round(quality["labelled_share"], 4),
        "accuracy": round(quality["value"], 4),
        "retrain_churn": next(s["value"] for s in churn if s["model_version"] is None),
    }


def _wait_for_quiet(api: httpx.Client, admin: dict[str, str], timeout_seconds: float = 30.0) -> None:
    """Until every breach is resolved and the outbox has drained (or the timeout passes)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        open_breaches = _check(api.get("/breaches", headers=admin, params={"open": "true"}))
        pending = _check(api.get("/notifications", headers=admin, params={"status": "pending"}))
        if not open_breaches and not pending:
            return
        time.sleep(0.2)


def _definitions_dir(settings: Settings) -> Path:
    configured = settings.slo_definitions_dir
    return configured if (configured / DEMO_SYSTEM).is_dir() else PROJECT_ROOT / "slo_definitions"


def _push(api: httpx.Client, headers: dict[str, str], events: list[dict[str, Any]]) -> None:
    for offset in range(0, len(events), 5000):
        _check(
            api.post(
                f"/systems/{DEMO_SYSTEM}/request-events",
                headers=headers,
                json={"events": events[offset : offset + 5000]},
            )
        )


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} -> {response.status_code}: {response.text}"
        )
    return response.json()


def _system_body() -> dict[str, Any]:
    return {
        "name": DEMO_SYSTEM,
        "description": "Job recommendations served online (demo)",
        "phase": "technical_validation",
        "service_owner": {"name": "web-platform", "slack_channel": "#recs-oncall"},
        "model_owner": {"name": "ml-recs", "slack_channel": "#recs-ml"},
    }


def _postmortem_body(breaches: list[dict[str, Any]]) -> dict[str, Any]:
    first_open = min(b["opened_at"] for b in breaches)
    last_resolved = max((b["resolved_at"] or first_open) for b in breaches)
    return {
        "title": "Recommender API errors and slow responses during model-server OOM (demo)",
        "status": "in_review",
        "authors": ["web-platform", "ml-recs"],
        "summary": "The recommender model server ran out of memory; 10% of requests failed for 20 minutes.",
        "impact": "Users saw no recommendations on 10% of page views; the other requests were about 4x slower.",
        "root_causes": "The item-similarity matrix grew with the catalogue and no longer fit in the server's memory.",
        "trigger": "Catalogue import doubled the number of items.",
        "resolution": "Rolled back to the previous catalogue snapshot and raised the memory limit.",
        "detection": "mlslo page alert on error-budget burn (1h/5m windows).",
        "action_items": [
            {
                "description": "Alert on model-server memory at 80% of its limit",
                "type": "prevent",
                "priority": "P0",
                "owner": "web-platform",
                "status": "open",
            },
            {
                "description": "Compute similarities in blocks so memory does not grow with the catalogue squared",
                "type": "prevent",
                "priority": "P1",
                "owner": "ml-recs",
                "status": "open",
            },
        ],
        "lessons_learned": {
            "went_well": ["The page fired within minutes of the first errors."],
            "went_wrong": ["Nobody watched memory as the catalogue grew."],
            "got_lucky": ["The incident happened during business hours."],
        },
        "timeline": [
            {"at": first_open, "event": "Page alert received in #recs-oncall"},
            {"at": last_resolved, "event": "Alerts resolved after rollback"},
        ],
        "breach_ids": [b["id"] for b in breaches],
    }
