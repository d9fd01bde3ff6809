"""Alerts fire, escalate and resolve over seven simulated hours while the Slack webhook is down:
first refusing connections, then answering 500s, then 429 with Retry-After. Delivery runs on every
30-second tick of a manual clock. Once the receiver recovers, every notification of the outbox has
arrived exactly once, in order per episode, none is dead, and no request reached the receiver while
a Retry-After it had sent was running."""

from __future__ import annotations

import json
import socket
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.clock import ManualClock
from app.config import Settings
from app.db import SessionFactory
from app.demo.slack_receiver import ScriptedResponse, SlackReceiver
from app.evaluation import service as evaluation_service
from app.evaluation.models import Breach
from app.measurements import repository as measurements_repository
from app.notifications import service as notifications_service
from app.notifications.models import Notification
from app.notifications.slack import DeliveryResult, SlackWebhookNotifier
from tests.factories import create_slo, create_system

STEP = timedelta(seconds=30)
RETRY_AFTER = timedelta(minutes=5)
# Receiver phases, in minutes of simulated time from the start.
REFUSING_UNTIL = 25
FIVE_HUNDREDS = 5
RATE_LIMITS = 3
HORIZON = timedelta(hours=8)


@dataclass(frozen=True)
class Request:
    at: datetime
    key: str  # the payload, canonically encoded: which notification it carried
    reached_receiver: bool
    result: DeliveryResult


class PhasedSlack:
    """The real Slack sender, pointed at a closed port while the receiver is 'down' and at the
    receiver afterwards; it records every request with its simulated time and outcome."""

    def __init__(self, clock: ManualClock, http_client: httpx.Client, down_url: str, up_url: str) -> None:
        self._clock = clock
        self._down = SlackWebhookNotifier(http_client, SecretStr(down_url))
        self._up = SlackWebhookNotifier(http_client, SecretStr(up_url))
        self.receiver_up = False
        self.requests: list[Request] = []

    def send(self, payload: dict[str, Any]) -> DeliveryResult:
        result = (self._up if self.receiver_up else self._down).send(payload)
        self.requests.append(Request(self._clock.now(), _key(payload), self.receiver_up, result))
        return result


def _key(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connections to it are refused, and nothing else can take it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture
def receiver() -> Iterator[SlackReceiver]:
    with SlackReceiver() as running:
        yield running


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


# Per-SLO traffic: (good, total) of one minute `m` minutes after the start (negative: history).
def _steady(per_minute: int, bad: int = 0) -> Any:
    return lambda m: (per_minute - bad, per_minute)


def _outage(per_minute: int, bad: int, start: int, end: int, before_bad: int = 0) -> Any:
    def profile(m: int) -> tuple[int, int]:
        if start <= m < end:
            return per_minute - bad, per_minute
        if m < 0:
            return per_minute - before_bad, per_minute
        return per_minute, per_minute

    return profile


def test_alerts_survive_a_down_receiver_and_arrive_once_in_order(
    session_factory: SessionFactory,
    clock: ManualClock,
    settings: Settings,
    receiver: SlackReceiver,
    http_client: httpx.Client,
    closed_port: int,
) -> None:
    settings = settings.model_copy(
        update={
            "slack_webhook_url": SecretStr(receiver.webhook_url),
            "alert_repeat_interval_minutes": 100_000.0,  # one episode: fired, (escalated,) resolved
        }
    )
    start = clock.now()
    with session_factory() as db_session:
        recommender = create_system(db_session, clock, "recommender")
        fraud = create_system(db_session, clock, "fraud-scorer")
        availability = create_slo(db_session, clock, recommender, "api-availability")
        slow = create_slo(db_session, clock, recommender, "ranking-errors")
        scoring = create_slo(db_session, clock, fraud, "scoring-availability")
        profiles = {
            # 20% errors for 10 minutes: a ticket, escalated to a page a few minutes later.
            availability.id: (_outage(100, 20, 10, 20), 6 * 60),
            # Three days at 5x burn (a ticket from the start), then half the requests failing for half an
            # hour (escalated to a page), then clean.
            slow.id: (_outage(200, 100, 30, 60, before_bad=1), 3 * 24 * 60),
            # A second system's outage while the receiver answers errors.
            scoring.id: (_outage(100, 50, 45, 55), 6 * 60),
        }
        measurements_repository.add_minute_counts(
            db_session=db_session,
            rows=(
                (slo_id, start + timedelta(minutes=m), *profile(m))
                for slo_id, (profile, history) in profiles.items()
                for m in range(-history, 0)
            ),
        )
        db_session.commit()

    slack = PhasedSlack(
        clock, http_client, f"http://127.0.0.1:{closed_port}/services/T000/B000/down", receiver.webhook_url
    )
    # After each tick: the notifications that were due, first of their episode, yet not sent.
    left_due: list[tuple[datetime, list[int]]] = []
    tick = 0
    while clock.now() - start < HORIZON:
        now = clock.now()
        minute = int((now - start) / timedelta(minutes=1))
        if tick % 2 == 0:
            # A new minute: its predecessor's traffic is counted, then everything is evaluated.
            with session_factory() as db_session:
                if minute > 0:
                    measurements_repository.add_minute_counts(
                        db_session=db_session,
                        rows=[
                            (slo_id, start + timedelta(minutes=minute - 1), *profile(minute - 1))
                            for slo_id, (profile, _) in profiles.items()
                        ],
                    )
                evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=settings)
                db_session.commit()
        if not slack.receiver_up and minute >= REFUSING_UNTIL:
            retry_after = f"{RETRY_AFTER.total_seconds():.0f}"
            # The receiver comes back, but answers 500s, then asks to slow down, then recovers.
            slack.receiver_up = True
            receiver.respond_next_with(
                *[ScriptedResponse(500, "internal_error")] * FIVE_HUNDREDS,
                *[ScriptedResponse(429, "rate_limited", {"Retry-After": retry_after})] * RATE_LIMITS,
            )
        notifications_service.deliver_due(
            session_factory=session_factory,
            clock=clock,
            senders={"slack": slack},
            max_attempts=1000,
            dead_after=timedelta(days=1),
        )
        if any(r.result.retry_after is not None for r in slack.requests):
            left_due.append((now, _due_heads(session_factory, now)))
        clock.advance(STEP)
        tick += 1

    with session_factory() as db_session:
        outbox = db_session.scalars(select(Notification).order_by(Notification.id)).all()
        breaches = {b.id: b for b in db_session.scalars(select(Breach))}

    # The simulation produced the episodes it was built for: every breach opened and resolved.
    by_breach: dict[int, list[Notification]] = defaultdict(list)
    for notification in outbox:
        by_breach[notification.breach_id].append(notification)
    assert sorted(b.slo_id for b in breaches.values()) == sorted(profiles)
    assert all(b.resolved_at is not None for b in breaches.values())
    episodes = sorted([n.event for n in chain] for chain in by_breach.values())
    # Each outage first burns past the ticket rule, then past the page rule a few minutes later.
    assert episodes == [["fired", "escalated", "resolved"]] * 3

    # Every notification was sent and none is dead.
    assert [(n.id, n.status) for n in outbox] == [(n.id, "sent") for n in outbox]
    keys = {_key(n.payload): n for n in outbox}
    by_id = {n.id: n for n in outbox}
    assert len(keys) == len(outbox), "payloads identify their notifications"

    # Each arrived exactly once, and per episode in the order it was written.
    received = [keys[_key(message.payload)] for message in receiver.messages]
    assert sorted(n.id for n in received) == [n.id for n in outbox]
    for breach_id, chain in by_breach.items():
        arrived = [n.id for n in received if n.breach_id == breach_id]
        assert arrived == [n.id for n in chain]
        # The Block Kit context line names the breach the message is about.
        for message in receiver.messages:
            if keys[_key(message.payload)].breach_id == breach_id:
                assert message.payload["blocks"][3]["elements"][0]["text"].startswith(f"Breach #{breach_id} ")

    # Retries happened: refused connections, 500s and 429s, each counted against its notification.
    reached = [r for r in slack.requests if r.reached_receiver]
    assert len(reached) == receiver.requests_seen
    per_notification: dict[int, list[Request]] = defaultdict(list)
    for request in slack.requests:
        per_notification[keys[request.key].id].append(request)
    for notification in outbox:
        tries = per_notification[notification.id]
        assert notification.attempts == len(tries)
        assert [r.result.delivered for r in tries] == [False] * (len(tries) - 1) + [True]
    errors = [r.result.error or "" for r in slack.requests if not r.result.delivered]
    assert sum(e.startswith("transport error") for e in errors) >= 4
    assert sum(e.startswith("HTTP 500") for e in errors) == FIVE_HUNDREDS
    assert sum(e.startswith("HTTP 429") for e in errors) == RATE_LIMITS
    assert max(len([r for r in per_notification[n.id] if r.reached_receiver]) for n in outbox) >= 2

    # Retry-After was honoured: after a 429, nothing reached the receiver until it had elapsed.
    for index, request in enumerate(reached):
        if request.result.retry_after is not None:
            assert request.result.retry_after == RETRY_AFTER
            following = reached[index + 1]
            assert following.at >= request.at + RETRY_AFTER, (request.at, following.at)
    # The rate limit held back a notification of another episode that was due meanwhile, not only
    # the one that was refused (Slack's limit is the webhook's, not one message's).
    limited = [(r.at, keys[r.key].breach_id) for r in reached if r.result.retry_after is not None]
    held_back = [
        (at, due)
        for at, due in left_due
        for limited_at, breach_id in limited
        if limited_at <= at < limited_at + RETRY_AFTER and any(by_id[n].breach_id != breach_id for n in due)
    ]
    assert held_back, "no other notification fell due while the receiver rate-limited"


def _due_heads(session_factory: SessionFactory, now: datetime) -> list[int]:
    """Pending notifications that are due and first in line of their episode."""
    with session_factory() as db_session:
        pending = db_session.scalars(
            select(Notification).where(Notification.status == "pending").order_by(Notification.id)
        ).all()
    heads: dict[int, Notification] = {}
    for notification in pending:
        heads.setdefault(notification.breach_id, notification)
    return [n.id for n in heads.values() if n.next_attempt_at <= now]
