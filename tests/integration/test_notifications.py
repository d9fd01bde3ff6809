"""Delivering the outbox to a real local Slack-compatible receiver: Block Kit content, retries,
Retry-After, dead letters, and the webhook URL kept secret."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.db import SessionFactory
from app.demo.slack_receiver import ScriptedResponse, SlackReceiver
from app.notifications import service as notifications_service
from app.notifications.messages import BreachAlert, NotificationEvent
from app.notifications.models import Notification
from app.notifications.slack import SlackWebhookNotifier
from app.notifications.slack_message import HEADER_LIMIT, build_slack_message
from tests.conftest import TEST_START
from tests.factories import create_slo, create_system


@pytest.fixture
def receiver() -> Iterator[SlackReceiver]:
    with SlackReceiver() as running:
        yield running


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def _alert(
    breach_id: int, event: NotificationEvent = NotificationEvent.FIRED, slo: str = "api-availability"
) -> BreachAlert:
    return BreachAlert(
        event=event,
        breach_id=breach_id,
        severity="page",
        system="recommender",
        phase="production",
        slo=slo,
        objective=0.999,
        period=timedelta(days=30),
        sli=0.9981,
        long_window=timedelta(hours=1),
        short_window=timedelta(minutes=5),
        long_burn_rate=33.3,
        short_burn_rate=200.0,
        burn_rate_threshold=14.4,
        error_budget_remaining=0.46,
        time_to_exhaustion=timedelta(hours=10),
        owner="web-team",
        owner_channel="#recs-oncall",
        opened_at=TEST_START,
        resolved_at=TEST_START + timedelta(hours=7) if event is NotificationEvent.RESOLVED else None,
        peak_burn_rate=33.3,
        budget_consumed_share=0.13 if event is NotificationEvent.RESOLVED else None,
        dashboard_url="http://grafana.test/d/mlslo-overview",
        breach_url=f"http://mlslo.test/api/v1/breaches/{breach_id}",
        postmortem_url=f"http://mlslo.test/api/v1/breaches/{breach_id}/postmortem-draft",
    )


def _breach_id(db_session: Session, clock: ManualClock) -> int:
    from app.evaluation.models import Breach

    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    breach = Breach(
        slo_id=slo.id,
        severity="page",
        opened_at=clock.now(),
        window_start=clock.now() - timedelta(minutes=5),
        peak_burn_rate=33.3,
        error_budget_remaining_at_open=0.5,
        opening_details={},
    )
    db_session.add(breach)
    db_session.commit()
    return breach.id


def test_fired_message_has_the_fields_an_on_call_needs() -> None:
    message = build_slack_message(_alert(7))
    assert message["blocks"][0]["text"]["text"] == "PAGE · recommender · api-availability · FIRING"
    fields = " ".join(field["text"] for field in message["blocks"][2]["fields"])
    for expected in (
        "99.9% over 30d",
        "33.3x / 200.0x (threshold 14.4x)",
        "46.0%",
        "10h 0m",
        "99.810%",
        "#recs-oncall",
    ):
        assert expected in fields
    assert "recommender/api-availability" in message["text"]
    buttons = {b["text"]["text"]: b["url"] for b in message["blocks"][4]["elements"]}
    assert buttons["Write a postmortem"] == "http://mlslo.test/api/v1/breaches/7/postmortem-draft"


def test_resolved_message_states_the_budget_the_breach_consumed() -> None:
    message = build_slack_message(_alert(7, NotificationEvent.RESOLVED))
    assert "RESOLVED" in message["blocks"][0]["text"]["text"]
    assert "consumed 13.0% of the error budget" in message["text"]


def test_long_names_are_truncated_not_rejected() -> None:
    message = build_slack_message(_alert(7, slo="x" * 500))
    header = message["blocks"][0]["text"]["text"]
    assert len(header) == HEADER_LIMIT
    # The SLO name gives way; the severity and the state are kept.
    assert header.startswith("PAGE · recommender · xxx")
    assert header.endswith("x… · FIRING")


def test_delivery_to_a_real_receiver_marks_sent(
    db_session: Session,
    session_factory: SessionFactory,
    clock: ManualClock,
    receiver: SlackReceiver,
    http_client: httpx.Client,
) -> None:
    breach_id = _breach_id(db_session, clock)
    notifications_service.enqueue_breach_alert(db_session=db_session, clock=clock, alert=_alert(breach_id))
    db_session.commit()

    report = notifications_service.deliver_due(
        session_factory=session_factory,
        clock=clock,
        senders={"slack": SlackWebhookNotifier(http_client, SecretStr(receiver.webhook_url))},
        max_attempts=3,
    )

    assert len(report.sent) == 1
    assert [m.payload["blocks"][0]["text"]["text"] for m in receiver.messages] == [
        "PAGE · recommender · api-availability · FIRING"
    ]
    db_session.expire_all()
    notification = db_session.scalars(select(Notification)).one()
    assert (notification.status, notification.attempts, notification.delivered_at) == ("sent", 1, clock.now())
    # Nothing is sent twice.
    again = notifications_service.deliver_due(
        session_factory=session_factory,
        clock=clock,
        senders={"slack": SlackWebhookNotifier(http_client, SecretStr(receiver.webhook_url))},
        max_attempts=3,
    )
    assert again.sent == []
    assert len(receiver.messages) == 1


def test_rate_limit_is_honoured_then_delivery_succeeds(
    db_session: Session,
    session_factory: SessionFactory,
    clock: ManualClock,
    receiver: SlackReceiver,
    http_client: httpx.Client,
) -> None:
    breach_id = _breach_id(db_session, clock)
    notifications_service.enqueue_breach_alert(db_session=db_session, clock=clock, alert=_alert(breach_id))
    db_session.commit()
    receiver.respond_next_with(ScriptedResponse(429, "rate_limited", {"Retry-After": "30"}))
    sender = SlackWebhookNotifier(http_client, SecretStr(receiver.webhook_url))

    first = notifications_service.deliver_due(
        session_factory=session_factory, clock=clock, senders={"slack": sender}, max_attempts=3
    )
    assert first.retrying != []
    db_session.expire_all()
    notification = db_session.scalars(select(Notification)).one()
    assert notification.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert notification.last_error == "HTTP 429: rate_limited"

    clock.advance(timedelta(seconds=29))
    assert (
        notifications_service.deliver_due(
            session_factory=session_factory, clock=clock, senders={"slack": sender}, max_attempts=3
        ).sent
        == []
    )
    clock.advance(timedelta(seconds=1))
    assert (
        len(
            notifications_service.deliver_due(
                session_factory=session_factory, clock=clock, senders={"slack": sender}, max_attempts=3
            ).sent
        )
        == 1
    )
    assert receiver.requests_seen == 2
    assert len(receiver.messages) == 1


def test_undeliverable_notification_goes_dead_and_the_url_never_leaks(
    db_session: Session,
    session_factory: SessionFactory,
    clock: ManualClock,
    receiver: SlackReceiver,
    http_client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    breach_id = _breach_id(db_session, clock)
    notifications_service.enqueue_breach_alert(db_session=db_session, clock=clock, alert=_alert(breach_id))
    db_session.commit()
    receiver.respond_next_with(*[ScriptedResponse(500, "internal_error")] * 3)
    sender = SlackWebhookNotifier(http_client, SecretStr(receiver.webhook_url))

    for _ in range(3):
        notifications_service.deliver_due(
            session_factory=session_factory, clock=clock, senders={"slack": sender}, max_attempts=3
        )
        clock.advance(timedelta(minutes=10))

    db_session.expire_all()
    notification = db_session.scalars(select(Notification)).one()
    assert (notification.status, notification.attempts) == ("dead", 3)
    assert notification.last_error == "HTTP 500: internal_error"
    assert "local-secret-token" not in caplog.text


def test_unreachable_webhook_error_does_not_contain_the_url(http_client: httpx.Client) -> None:
    secret_url = "http://127.0.0.1:9/services/T1/B1/very-secret"
    result = SlackWebhookNotifier(http_client, SecretStr(secret_url)).send({"text": "x"})
    assert not result.delivered
    assert result.error is not None
    assert "very-secret" not in result.error


def test_retry_delays_back_off_exponentially_with_a_cap() -> None:
    delays = [notifications_service.retry_delay(n) for n in (1, 2, 3, 4, 20)]
    assert delays == [
        timedelta(seconds=5),
        timedelta(seconds=10),
        timedelta(seconds=20),
        timedelta(seconds=40),
        timedelta(minutes=10),
    ]
