"""Alert episodes as on-call people see them: routing by phase and owner side, ticket inhibition while
a page fires, repeats until acknowledged, silences recorded as silenced, the once-per-episode retrain
trigger, and dead letters that raise their own alert."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerting_policy.models import Silence
from app.clock import ManualClock
from app.config import Settings
from app.db import SessionFactory
from app.demo.slack_receiver import SlackReceiver
from app.evaluation import routing
from app.evaluation import service as evaluation_service
from app.evaluation.models import Breach
from app.jobs import JobContext
from app.measurements import repository as measurements_repository
from app.notifications import service as notifications_service
from app.notifications.jobs import deliver_notifications
from app.notifications.models import Notification
from app.notifications.pagerduty import PagerDutySender
from app.notifications.service import Targets
from app.notifications.slack import SlackWebhookNotifier
from app.notifications.webhook import SignedWebhookSender, verify_signature
from app.slos.models import Slo
from app.systems.models import Phase, System
from tests.factories import create_slo, create_system
from tests.http_receiver import RecordingReceiver, Reply


@pytest.fixture
def alerting(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "slack_webhook_url": SecretStr("http://127.0.0.1:9/hook"),
            "alert_repeat_interval_minutes": 60.0,
        }
    )


def _burn(db_session: Session, clock: ManualClock, slo: Slo, *, minutes: int, bad_per_100: float) -> None:
    """`minutes` minutes of 1,000 events a minute before the clock, `bad_per_100` percent of them bad."""
    start = clock.now() - timedelta(minutes=minutes)
    bad = round(bad_per_100 * 10)
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=[(slo.id, start + timedelta(minutes=m), 1000 - bad, 1000) for m in range(minutes)],
    )


def _evaluate(
    db_session: Session, clock: ManualClock, settings: Settings
) -> evaluation_service.EvaluationReport:
    return evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=settings)


def _notifications(db_session: Session, target: str | None = None) -> list[Notification]:
    db_session.expire_all()
    query = select(Notification).order_by(Notification.id)
    if target is not None:
        query = query.where(Notification.target == target)
    return list(db_session.scalars(query))


def _with_page_channels(system: System) -> System:
    system.service_owner_page_channel = "#recs-pages"
    system.model_owner_page_channel = "#ml-pages"
    return system


def _ml_slo(db_session: Session, clock: ManualClock, system: System) -> Slo:
    slo = create_slo(
        db_session, clock, system, "click-accuracy", sli_kind="classification_quality", objective=0.9
    )
    slo.metric = "accuracy"
    slo.owner_side = "model"
    db_session.flush()
    return slo


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (
            Phase.PRODUCTION,
            {"api-availability": ("page", "#recs-pages"), "click-accuracy": ("page", "#ml-pages")},
        ),
        # Technical validation tickets only: the owners' ticket channels.
        (
            Phase.TECHNICAL_VALIDATION,
            {"api-availability": ("ticket", "#recs-oncall"), "click-accuracy": ("ticket", "#recs-ml")},
        ),
        (Phase.CONCEPT, {}),
    ],
)
def test_service_and_model_slos_are_routed_by_phase_and_side(
    db_session: Session,
    clock: ManualClock,
    alerting: Settings,
    client: TestClient,
    admin_headers: dict[str, str],
    phase: Phase,
    expected: dict[str, tuple[str, str]],
) -> None:
    system = _with_page_channels(create_system(db_session, clock, phase=phase))
    service_slo = create_slo(db_session, clock, system, "api-availability")
    model_slo = _ml_slo(db_session, clock, system)
    _burn(db_session, clock, service_slo, minutes=60, bad_per_100=50)
    _burn(db_session, clock, model_slo, minutes=60, bad_per_100=60)

    _evaluate(db_session, clock, alerting)

    sent = {}
    for notification in _notifications(db_session, "slack"):
        breach = db_session.get(Breach, notification.breach_id)
        assert breach is not None
        slo = db_session.get(Slo, breach.slo_id)
        assert slo is not None
        sent[slo.name] = (breach.severity, notification.channel)
    assert sent == expected
    db_session.commit()

    why = client.get(
        "/api/v1/systems/recommender/slos/click-accuracy/routing",
        params={"severity": "page"},
        headers=admin_headers,
    ).json()
    assert why["owner_side"] == "model"
    assert why["owner"] == "ml-team"
    assert why["channel"] == "#ml-pages"
    assert why["allowed"] is (phase is Phase.PRODUCTION)
    assert any("ML SLI, so it routes to the model owner (ml-team)" in reason for reason in why["reasons"])
    assert any("#ml-pages, the model owner's page channel" in reason for reason in why["reasons"])
    # Which targets: Slack gets both severities, PagerDuty pages only, the training pipeline ML SLOs.
    every_target = Targets(slack=True, webhook=True, pagerduty=True, retrain=True)
    page = routing.decide(model_slo, system, "page", targets=every_target)
    ticket = routing.decide(service_slo, system, "ticket", targets=every_target)
    if phase is Phase.PRODUCTION:
        assert page.targets == ["slack", "webhook", "pagerduty", "retrain"]
        assert ticket.targets == ["slack", "webhook"]
        assert (ticket.channel, ticket.owner) == ("#recs-oncall", "web-team")
    elif phase is Phase.TECHNICAL_VALIDATION:
        assert (page.targets, ticket.targets) == ([], ["slack", "webhook"])
    else:
        assert (page.targets, ticket.targets) == ([], [])


def test_a_page_inhibits_the_ticket_of_the_same_slo_and_keys_stay_stable(
    db_session: Session, clock: ManualClock, alerting: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    # A slow burn first: a ticket (0.4% errors against a 0.1% budget: 4x, above the 1d/2h ticket
    # factor of 3, below the page factors of 14.4 and 6).
    _burn(db_session, clock, slo, minutes=120, bad_per_100=0.4)
    first = _evaluate(db_session, clock, alerting)
    (breach_id,) = first.breaches_opened
    breach = db_session.get(Breach, breach_id)
    assert breach is not None
    assert (breach.severity, breach.dedup_key) == (
        "ticket",
        "mlslo:recommender:production:api-availability:ticket",
    )

    # Then a fast burn: the same episode escalates to a page, whose key is the page's.
    clock.advance(timedelta(minutes=5))
    _burn(db_session, clock, slo, minutes=5, bad_per_100=90)
    second = _evaluate(db_session, clock, alerting)
    assert second.breaches_escalated == [breach_id]
    assert breach.dedup_key == "mlslo:recommender:production:api-availability:page"

    # While the page fires, no ticket is sent for this SLO: one open episode, no second breach.
    for _ in range(3):
        clock.advance(timedelta(minutes=5))
        _burn(db_session, clock, slo, minutes=5, bad_per_100=90)
        report = _evaluate(db_session, clock, alerting)
        assert report.breaches_opened == []
    events = [
        (n.event, n.payload["blocks"][0]["text"]["text"].split(" · ")[0]) for n in _notifications(db_session)
    ]
    assert events == [("fired", "TICKET"), ("escalated", "PAGE")]


def test_repeats_follow_the_interval_until_acknowledged_and_the_resolved_notice_still_goes(
    db_session: Session,
    clock: ManualClock,
    alerting: Settings,
    client: TestClient,
    admin_headers: dict[str, str],
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    _burn(db_session, clock, slo, minutes=60, bad_per_100=50)
    (breach_id,) = _evaluate(db_session, clock, alerting).breaches_opened

    def hour_of_burning() -> None:
        for _ in range(4):
            clock.advance(timedelta(minutes=15))
            _burn(db_session, clock, slo, minutes=15, bad_per_100=50)
            _evaluate(db_session, clock, alerting)

    hour_of_burning()
    assert [n.event for n in _notifications(db_session)] == ["fired", "repeated"]
    hour_of_burning()
    assert [n.event for n in _notifications(db_session)] == ["fired", "repeated", "repeated"]

    db_session.commit()
    acked = client.post(
        f"/api/v1/breaches/{breach_id}/acknowledge", json={"comment": "rolling back"}, headers=admin_headers
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] is not None
    again = client.post(f"/api/v1/breaches/{breach_id}/acknowledge", json={}, headers=admin_headers)
    assert again.status_code == 409

    hour_of_burning()
    hour_of_burning()
    # No repeat follows the acknowledgement. (This API app has no target configured, so the
    # acknowledgement itself is not announced here; the PagerDuty test below shows it is.)
    assert [n.event for n in _notifications(db_session)] == ["fired", "repeated", "repeated"]

    # Healthy for long enough: the episode resolves and says so, acknowledged or not.
    clock.advance(timedelta(days=3, hours=1))
    _burn(db_session, clock, slo, minutes=6 * 60, bad_per_100=0)
    assert _evaluate(db_session, clock, alerting).breaches_resolved == [breach_id]
    assert [n.event for n in _notifications(db_session)][-1] == "resolved"
    breach = db_session.get(Breach, breach_id)
    assert breach is not None
    assert breach.start_details is not None
    assert breach.peak_details is not None
    assert breach.closing_details is not None
    assert breach.peak_details["long_burn_rate"] >= breach.start_details["long_burn_rate"]


def test_silenced_alerts_are_recorded_not_sent(
    db_session: Session, session_factory: SessionFactory, clock: ManualClock, alerting: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    silence = Silence(
        system="recommender",
        slo="api-availability",
        severity=None,
        starts_at=clock.now() - timedelta(minutes=1),
        ends_at=clock.now() + timedelta(hours=1),
        created_by="oncall",
        comment="planned migration",
        created_at=clock.now(),
    )
    db_session.add(silence)
    _burn(db_session, clock, slo, minutes=60, bad_per_100=50)
    _evaluate(db_session, clock, alerting)
    (fired,) = _notifications(db_session)
    assert (fired.status, fired.silence_id) == ("silenced", silence.id)
    db_session.commit()
    with httpx.Client() as http, SlackReceiver() as receiver:
        report = notifications_service.deliver_due(
            session_factory=session_factory,
            clock=clock,
            senders={"slack": SlackWebhookNotifier(http, SecretStr(receiver.webhook_url))},
            max_attempts=3,
        )
        assert report.sent == []
        assert receiver.messages == []


def test_the_training_pipeline_is_called_once_per_episode_of_a_burning_ml_slo(
    db_session: Session, clock: ManualClock, settings: Settings
) -> None:
    with_retrain = settings.model_copy(
        update={
            "slack_webhook_url": SecretStr("http://127.0.0.1:9/hook"),
            "retrain_webhook_url": SecretStr("http://127.0.0.1:9/retrain"),
            "alert_repeat_interval_minutes": 30.0,
        }
    )
    system = create_system(db_session, clock)
    ml = _ml_slo(db_session, clock, system)
    conventional = create_slo(db_session, clock, system)
    _burn(db_session, clock, ml, minutes=120, bad_per_100=15)
    _burn(db_session, clock, conventional, minutes=120, bad_per_100=50)
    _evaluate(db_session, clock, with_retrain)
    # Burning on: escalation or repeats call nobody again.
    for _ in range(4):
        clock.advance(timedelta(minutes=15))
        _burn(db_session, clock, ml, minutes=15, bad_per_100=60)
        _burn(db_session, clock, conventional, minutes=15, bad_per_100=50)
        _evaluate(db_session, clock, with_retrain)

    retrain = _notifications(db_session, "retrain")
    assert len(retrain) == 1
    assert retrain[0].payload["slo"] == "click-accuracy"
    assert retrain[0].payload["reason"] == "slo_burn"
    slack_events = [n.event for n in _notifications(db_session, "slack")]
    assert "repeated" in slack_events


def test_an_undeliverable_notification_becomes_a_dead_letter_that_raises_its_own_alert(
    db_session: Session,
    session_factory: SessionFactory,
    clock: ManualClock,
    settings: Settings,
    client: TestClient,
    admin_headers: dict[str, str],
) -> None:
    refused = "http://127.0.0.1:9/hook"
    targets = settings.model_copy(
        update={
            "slack_webhook_url": SecretStr(refused),
            "webhook_url": SecretStr("http://127.0.0.1:9/unused"),
        }
    )
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    _burn(db_session, clock, slo, minutes=60, bad_per_100=50)
    _evaluate(db_session, clock, targets)
    db_session.commit()
    with httpx.Client(timeout=2) as http, RecordingReceiver(Reply(202)) as webhook:
        senders = {
            "slack": SlackWebhookNotifier(http, SecretStr(refused)),
            "webhook": SignedWebhookSender(http, SecretStr(webhook.url("/hooks/mlslo")), SecretStr("k")),
        }
        delivered = []
        for _ in range(40):
            report = notifications_service.deliver_due(
                session_factory=session_factory,
                clock=clock,
                senders=senders,
                max_attempts=1000,
                dead_after=timedelta(hours=1),
            )
            delivered += report.sent
            if report.dead:
                break
            clock.advance(timedelta(minutes=10))
        assert report.dead, "Slack never came back within the hour: the notification is a dead letter"
        notifications_service.deliver_due(
            session_factory=session_factory, clock=clock, senders=senders, max_attempts=1000
        )
        events = [request.json()["event"] for request in webhook.requests]
    assert events == ["fired", "dead_letter"]
    dead = [n for n in _notifications(db_session) if n.status == "dead"]
    assert [(n.target, n.event) for n in dead] == [("slack", "fired")]
    assert refused not in (dead[0].last_error or "")
    listed = client.get("/api/v1/notifications", params={"status": "dead"}, headers=admin_headers).json()
    assert [(n["target"], n["event"]) for n in listed] == [("slack", "fired")]
    assert 'mlslo_notifications{status="dead",target="slack"} 1.0' in client.get("/metrics").text


def test_a_page_triggers_and_resolves_one_pagerduty_incident_and_tickets_never_page(
    db_session: Session, session_factory: SessionFactory, clock: ManualClock, settings: Settings
) -> None:
    with_pagerduty = settings.model_copy(update={"pagerduty_routing_key": SecretStr("R0UT1NG")})
    system = create_system(db_session, clock)
    paging = create_slo(db_session, clock, system, "api-availability")
    ticketing = create_slo(db_session, clock, system, "api-latency", sli_kind="latency", threshold_ms=300)
    _burn(db_session, clock, paging, minutes=60, bad_per_100=50)
    _burn(db_session, clock, ticketing, minutes=120, bad_per_100=0.4)
    _evaluate(db_session, clock, with_pagerduty)
    (breach,) = [b for b in db_session.scalars(select(Breach)) if b.severity == "page"]
    # The on-call takes it: PagerDuty's incident is acknowledged, and later resolved.
    evaluation_service.acknowledge(
        db_session=db_session,
        clock=clock,
        settings=with_pagerduty,
        breach=breach,
        slo=paging,
        system=system,
        by="alice",
        comment=None,
    )
    clock.advance(timedelta(days=3, hours=1))
    _burn(db_session, clock, paging, minutes=6 * 60, bad_per_100=0)
    _burn(db_session, clock, ticketing, minutes=6 * 60, bad_per_100=0)
    _evaluate(db_session, clock, with_pagerduty)
    db_session.commit()

    with httpx.Client() as http, RecordingReceiver(Reply(202, '{"status": "success"}')) as pagerduty:
        notifications_service.deliver_due(
            session_factory=session_factory,
            clock=clock,
            senders={"pagerduty": PagerDutySender(http, SecretStr("R0UT1NG"), pagerduty.url("/v2/enqueue"))},
            max_attempts=3,
        )
        sent = [request.json() for request in pagerduty.requests]
    assert [(event["event_action"], event["dedup_key"]) for event in sent] == [
        ("trigger", "mlslo:recommender:production:api-availability:page"),
        ("acknowledge", "mlslo:recommender:production:api-availability:page"),
        ("resolve", "mlslo:recommender:production:api-availability:page"),
    ]
    assert {event["routing_key"] for event in sent} == {"R0UT1NG"}
    assert sent[0]["payload"]["severity"] == "critical"
    # The routing key is added when sending, never stored in the outbox.
    assert all("R0UT1NG" not in str(n.payload) for n in _notifications(db_session, "pagerduty"))


def test_the_delivery_job_sends_to_every_configured_target(
    db_session: Session, session_factory: SessionFactory, clock: ManualClock, settings: Settings
) -> None:
    with RecordingReceiver(Reply(200, "ok")) as receiver:
        configured = settings.model_copy(
            update={
                "slack_webhook_url": SecretStr(receiver.url("/slack")),
                "webhook_url": SecretStr(receiver.url("/webhook")),
                "webhook_secret": SecretStr("s3cret"),
                "pagerduty_routing_key": SecretStr("R0UT1NG"),
                "pagerduty_events_url": receiver.url("/pagerduty"),
                "retrain_webhook_url": SecretStr(receiver.url("/retrain")),
            }
        )
        system = create_system(db_session, clock)
        _burn(db_session, clock, _ml_slo(db_session, clock, system), minutes=60, bad_per_100=70)
        _evaluate(db_session, clock, configured)
        db_session.commit()
        with httpx.Client() as http:
            report = deliver_notifications(
                JobContext(
                    settings=configured, session_factory=session_factory, clock=clock, http_client=http
                )
            )
        paths = sorted(request.path for request in receiver.requests)
    assert len(report.sent) == 4
    assert paths == ["/pagerduty", "/retrain", "/slack", "/webhook"]
    signed = next(request for request in receiver.requests if request.path == "/webhook")
    assert verify_signature(
        "s3cret",
        signed.header("X-Mlslo-Timestamp") or "",
        signed.body,
        signed.header("X-Mlslo-Signature") or "",
    )
