"""Signed generic webhooks, retrain requests and PagerDuty Events v2, delivered to real local HTTP
receivers: the exact documented bodies, HMAC signatures, dedup keys, Retry-After, permanent failures,
and secrets (URLs, signing secrets, routing keys) kept out of every error and log line."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.notifications.messages import BreachAlert, NotificationEvent
from app.notifications.pagerduty import (
    SUMMARY_LIMIT,
    PagerDutySender,
    build_pagerduty_event,
    is_permanent_failure,
)
from app.notifications.webhook import (
    SignedWebhookSender,
    build_retrain_request,
    build_webhook_payload,
    timestamp_is_fresh,
    verify_signature,
)
from tests.conftest import TEST_START
from tests.http_receiver import RecordingReceiver, Reply

SIGNING_SECRET = "whsec-test-7f3a9c1e5b"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
DEDUP_KEY = "mlslo/recommender/ctr-quality/page"
SENT_AT = TEST_START + timedelta(minutes=3)


@pytest.fixture
def receiver() -> Iterator[RecordingReceiver]:
    with RecordingReceiver(Reply(200, "ok")) as running:
        yield running


@pytest.fixture
def pagerduty() -> Iterator[RecordingReceiver]:
    accepted = json.dumps({"status": "success", "message": "Event processed", "dedup_key": DEDUP_KEY})
    with RecordingReceiver(Reply(202, accepted, {"Content-Type": "application/json"})) as running:
        yield running


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def _alert(event: NotificationEvent = NotificationEvent.FIRED, **changes: Any) -> BreachAlert:
    resolved = event is NotificationEvent.RESOLVED
    alert = BreachAlert(
        event=event,
        breach_id=42,
        severity="page",
        system="recommender",
        phase="production",
        slo="ctr-quality",
        objective=0.95,
        period=timedelta(days=28),
        sli=0.9412,
        long_window=timedelta(hours=1),
        short_window=timedelta(minutes=5),
        long_burn_rate=16.2,
        short_burn_rate=20.5,
        burn_rate_threshold=14.4,
        error_budget_remaining=0.31,
        time_to_exhaustion=timedelta(hours=2, minutes=30),
        owner="ranking-ml",
        owner_channel="#ranking-oncall",
        opened_at=TEST_START,
        resolved_at=TEST_START + timedelta(hours=3) if resolved else None,
        peak_burn_rate=18.7,
        budget_consumed_share=0.12 if resolved else None,
        dashboard_url="http://grafana.test/d/mlslo-overview",
        breach_url="http://mlslo.test/api/v1/breaches/42",
        postmortem_url="http://mlslo.test/api/v1/breaches/42/postmortem-draft",
        dedup_key=DEDUP_KEY,
        model_version="ranker-2026.01.03",
        runbook_url="http://wiki.test/runbooks/ctr-quality",
        sli_family="ml",
        owner_side="model",
    )
    return replace(alert, **changes)


def _webhook_sender(
    http_client: httpx.Client, url: str, secret: str | None = SIGNING_SECRET
) -> SignedWebhookSender:
    return SignedWebhookSender(
        http_client, SecretStr(url), None if secret is None else SecretStr(secret), now=lambda: SENT_AT
    )


LINKS = {
    "dashboard": "http://grafana.test/d/mlslo-overview",
    "breach": "http://mlslo.test/api/v1/breaches/42",
    "postmortem": "http://mlslo.test/api/v1/breaches/42/postmortem-draft",
    "runbook": "http://wiki.test/runbooks/ctr-quality",
}

GOLDEN_FIRED = {
    "version": 1,
    "event": "fired",
    "dedup_key": DEDUP_KEY,
    "severity": "page",
    "system": "recommender",
    "phase": "production",
    "slo": "ctr-quality",
    "owner": "ranking-ml",
    "owner_side": "model",
    "sli_family": "ml",
    "model_version": "ranker-2026.01.03",
    "objective": 0.95,
    "window": "28d",
    "sli": 0.9412,
    "burn_rates": {"long_window": "1h", "short_window": "5m", "long": 16.2, "short": 20.5, "threshold": 14.4},
    "error_budget_remaining": 0.31,
    "time_to_exhaustion_seconds": 9000,
    "opened_at": "2026-01-05T12:00:00Z",
    "resolved_at": None,
    "peak_burn_rate": 18.7,
    "budget_consumed_share": None,
    "data_missing_since": None,
    "links": LINKS,
}


# --- generic signed webhook ---------------------------------------------------------------------


def test_webhook_body_is_exactly_the_documented_document(
    receiver: RecordingReceiver, http_client: httpx.Client
) -> None:
    payload = build_webhook_payload(_alert())
    assert payload == GOLDEN_FIRED

    result = _webhook_sender(http_client, receiver.url("/hooks/mlslo")).send(payload)

    assert result.delivered
    assert result.error is None
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/mlslo")
    assert request.header("Content-Type") == "application/json"
    assert request.json() == GOLDEN_FIRED
    # Compact JSON, serialised once: the bytes on the wire are the documented document, in order.
    assert request.body == json.dumps(GOLDEN_FIRED, separators=(",", ":")).encode()
    assert request.header("X-Mlslo-Timestamp") == str(int(SENT_AT.timestamp()))
    assert request.header("X-Mlslo-Dedup-Key") == DEDUP_KEY
    idempotency_key = request.header("Idempotency-Key")
    assert idempotency_key is not None
    assert idempotency_key.startswith(f"{DEDUP_KEY}:fired:")


def test_resolved_and_data_missing_documents_fill_their_fields() -> None:
    resolved = build_webhook_payload(_alert(NotificationEvent.RESOLVED, runbook_url=None))
    assert resolved == {
        **GOLDEN_FIRED,
        "event": "resolved",
        "resolved_at": "2026-01-05T15:00:00Z",
        "budget_consumed_share": 0.12,
        "links": {**LINKS, "runbook": None},
    }
    missing = build_webhook_payload(
        _alert(
            data_missing_since=TEST_START - timedelta(minutes=30),
            sli=None,
            long_burn_rate=None,
            short_burn_rate=None,
            time_to_exhaustion=None,
        )
    )
    assert missing["data_missing_since"] == "2026-01-05T11:30:00Z"
    assert missing["sli"] is None
    assert missing["time_to_exhaustion_seconds"] is None
    assert missing["burn_rates"]["long"] is None


def test_signature_verifies_and_detects_tampering(
    receiver: RecordingReceiver, http_client: httpx.Client
) -> None:
    assert (
        _webhook_sender(http_client, receiver.url("/hooks/mlslo"))
        .send(build_webhook_payload(_alert()))
        .delivered
    )
    [request] = receiver.requests
    timestamp = request.header("X-Mlslo-Timestamp")
    signature = request.header("X-Mlslo-Signature")
    assert timestamp is not None
    assert signature is not None

    # An independent computation of the documented scheme: HMAC-SHA256 of "<timestamp>.<body>".
    expected = hmac.new(SIGNING_SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert signature == f"sha256={expected.hexdigest()}"
    assert verify_signature(SIGNING_SECRET, timestamp, request.body, signature)

    tampered = request.body.replace(b'"severity":"page"', b'"severity":"ticket"')
    assert tampered != request.body
    assert not verify_signature(SIGNING_SECRET, timestamp, tampered, signature)
    assert not verify_signature("another-secret", timestamp, request.body, signature)
    assert not verify_signature(SIGNING_SECRET, str(int(timestamp) + 1), request.body, signature)
    assert not verify_signature(SIGNING_SECRET, timestamp, request.body, "sha256=" + "0" * 64)
    assert not verify_signature(SIGNING_SECRET, "not-a-time", request.body, signature)
    assert not verify_signature(SIGNING_SECRET, timestamp, request.body, "sha256=ünïcode")

    # Receivers reject replays by the signed timestamp's age.
    assert timestamp_is_fresh(timestamp, now=SENT_AT + timedelta(minutes=4))
    assert not timestamp_is_fresh(timestamp, now=SENT_AT + timedelta(minutes=6))


def test_no_signature_header_without_a_secret(receiver: RecordingReceiver, http_client: httpx.Client) -> None:
    sender = _webhook_sender(http_client, receiver.url("/hooks/mlslo"), secret=None)
    assert sender.send(build_webhook_payload(_alert())).delivered
    [request] = receiver.requests
    assert request.header("X-Mlslo-Signature") is None
    assert request.header("X-Mlslo-Timestamp") == str(int(SENT_AT.timestamp()))


def test_idempotency_key_is_stable_for_a_retry_and_new_for_another_event(
    receiver: RecordingReceiver, http_client: httpx.Client
) -> None:
    sender = _webhook_sender(http_client, receiver.url("/hooks/mlslo"))
    fired = build_webhook_payload(_alert())
    for payload in (fired, fired, build_webhook_payload(_alert(NotificationEvent.RESOLVED))):
        assert sender.send(payload).delivered
    first, retry, resolved = receiver.requests
    assert first.header("Idempotency-Key") == retry.header("Idempotency-Key")
    assert resolved.header("Idempotency-Key") != first.header("Idempotency-Key")
    assert {r.header("X-Mlslo-Dedup-Key") for r in receiver.requests} == {DEDUP_KEY}


def test_any_2xx_is_delivered(receiver: RecordingReceiver, http_client: httpx.Client) -> None:
    receiver.reply_next_with(Reply(202), Reply(204))
    sender = _webhook_sender(http_client, receiver.url("/hooks/mlslo"))
    assert sender.send(build_webhook_payload(_alert())).delivered
    assert sender.send(build_webhook_payload(_alert())).delivered


def test_server_error_is_not_delivered_and_never_reveals_the_url_or_secret(
    receiver: RecordingReceiver, http_client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = "/hooks/T0KEN-s3cr3t-path-9d8c"
    url = receiver.url(path)
    # A careless receiver echoes the request line and the secret back in its error page.
    receiver.reply_next_with(Reply(500, f"internal error handling POST {path} ({url}) key={SIGNING_SECRET}"))

    result = _webhook_sender(http_client, url).send(build_webhook_payload(_alert()))

    assert not result.delivered
    assert result.retry_after is None
    assert result.error is not None
    assert result.error.startswith("HTTP 500: internal error")
    for secret in (url, path, SIGNING_SECRET):
        assert secret not in result.error
        assert secret not in caplog.text


def test_429_honours_retry_after_in_seconds_or_as_an_http_date(
    receiver: RecordingReceiver, http_client: httpx.Client
) -> None:
    http_date = email.utils.format_datetime(SENT_AT + timedelta(seconds=90), usegmt=True)
    receiver.reply_next_with(
        Reply(429, "slow down", {"Retry-After": "7"}), Reply(429, "slow down", {"Retry-After": http_date})
    )
    sender = _webhook_sender(http_client, receiver.url("/hooks/mlslo"))

    seconds = sender.send(build_webhook_payload(_alert()))
    dated = sender.send(build_webhook_payload(_alert()))

    assert not seconds.delivered
    assert seconds.retry_after == timedelta(seconds=7)
    assert not dated.delivered
    assert dated.retry_after == timedelta(seconds=90)


def test_transport_error_names_only_the_exception_type(http_client: httpx.Client) -> None:
    with RecordingReceiver(Reply(200)) as closed:
        url = closed.url("/hooks/T0KEN-gone")
    # The receiver has shut down: the connection is refused.
    result = _webhook_sender(http_client, url).send(build_webhook_payload(_alert()))
    assert not result.delivered
    assert result.error == "transport error: ConnectError"


def test_retrain_request_is_the_documented_body(
    receiver: RecordingReceiver, http_client: httpx.Client
) -> None:
    golden = {
        "version": 1,
        "reason": "slo_burn",
        "dedup_key": DEDUP_KEY,
        "system": "recommender",
        "slo": "ctr-quality",
        "model_version": "ranker-2026.01.03",
        "burn_rate": 16.2,
        "error_budget_remaining": 0.31,
        "sli": 0.9412,
        "breach_id": 42,
        "opened_at": "2026-01-05T12:00:00Z",
        "links": LINKS,
    }
    request_body = build_retrain_request(_alert())
    assert request_body == golden
    # Without a long-window burn rate the breach's peak is the best figure there is.
    assert build_retrain_request(_alert(long_burn_rate=None))["burn_rate"] == 18.7

    assert _webhook_sender(http_client, receiver.url("/pipelines/retrain")).send(request_body).delivered
    [request] = receiver.requests
    assert request.path == "/pipelines/retrain"
    assert request.json() == golden
    signature = request.header("X-Mlslo-Signature")
    timestamp = request.header("X-Mlslo-Timestamp")
    assert signature is not None
    assert timestamp is not None
    assert verify_signature(SIGNING_SECRET, timestamp, request.body, signature)
    idempotency_key = request.header("Idempotency-Key")
    assert idempotency_key is not None
    assert idempotency_key.startswith(f"{DEDUP_KEY}:slo_burn:")


def test_non_finite_numbers_are_sent_as_null(receiver: RecordingReceiver, http_client: httpx.Client) -> None:
    payload = build_webhook_payload(_alert(long_burn_rate=float("nan"), short_burn_rate=float("inf")))
    assert _webhook_sender(http_client, receiver.url("/hooks/mlslo")).send(payload).delivered
    burn_rates = receiver.requests[0].json()["burn_rates"]
    assert (burn_rates["long"], burn_rates["short"]) == (None, None)


# --- PagerDuty Events API v2 --------------------------------------------------------------------


def _pagerduty_sender(http_client: httpx.Client, receiver: RecordingReceiver) -> PagerDutySender:
    return PagerDutySender(
        http_client, SecretStr(ROUTING_KEY), url=receiver.url("/v2/enqueue"), now=lambda: SENT_AT
    )


def test_trigger_then_resolve_share_the_dedup_key_and_only_the_sent_body_has_the_routing_key(
    pagerduty: RecordingReceiver, http_client: httpx.Client
) -> None:
    trigger = build_pagerduty_event(_alert())
    resolve = build_pagerduty_event(_alert(NotificationEvent.RESOLVED))
    assert "routing_key" not in trigger
    assert "routing_key" not in resolve
    assert ROUTING_KEY not in json.dumps(trigger) + json.dumps(resolve)
    assert resolve == {"event_action": "resolve", "dedup_key": DEDUP_KEY}
    assert trigger == {
        "event_action": "trigger",
        "dedup_key": DEDUP_KEY,
        "payload": {
            "summary": (
                "PAGE: recommender/ctr-quality (model ranker-2026.01.03) is burning its error budget at "
                "16.2x (threshold 14.4x); 31.0% of the budget left, exhausted in 2h 30m at this rate."
            ),
            "source": "recommender",
            "severity": "critical",
            "component": "ctr-quality",
            "group": "production",
            "class": "slo_burn",
            "custom_details": {
                "event": "fired",
                "objective": 0.95,
                "window": "28d",
                "sli": 0.9412,
                "burn_rates": {
                    "long_window": "1h",
                    "short_window": "5m",
                    "long": 16.2,
                    "short": 20.5,
                    "threshold": 14.4,
                },
                "error_budget_remaining": 0.31,
                "time_to_exhaustion": "2h 30m",
                "model_version": "ranker-2026.01.03",
                "owner": "ranking-ml",
                "owner_channel": "#ranking-oncall",
                "breach_id": 42,
                "opened_at": "2026-01-05T12:00:00Z",
                "data_missing_since": None,
            },
        },
        "links": [
            {"href": LINKS["dashboard"], "text": "Dashboard"},
            {"href": LINKS["postmortem"], "text": "Write a postmortem"},
            {"href": LINKS["runbook"], "text": "Runbook"},
        ],
        "client": "mlslo",
        "client_url": LINKS["breach"],
    }

    sender = _pagerduty_sender(http_client, pagerduty)
    assert sender.send(trigger).delivered
    assert sender.send(resolve).delivered

    sent_trigger, sent_resolve = (request.json() for request in pagerduty.requests)
    assert [r.path for r in pagerduty.requests] == ["/v2/enqueue", "/v2/enqueue"]
    assert pagerduty.requests[0].header("Content-Type") == "application/json"
    assert sent_trigger == {"routing_key": ROUTING_KEY, **trigger}
    assert sent_resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": DEDUP_KEY}
    assert sent_trigger["dedup_key"] == sent_resolve["dedup_key"] == DEDUP_KEY
    # Sending does not add the key to the caller's (stored) payload.
    assert "routing_key" not in trigger


@pytest.mark.parametrize(
    ("event", "action"),
    [
        (NotificationEvent.FIRED, "trigger"),
        (NotificationEvent.ESCALATED, "trigger"),
        (NotificationEvent.REPEATED, "trigger"),
        (NotificationEvent.RESOLVED, "resolve"),
    ],
)
def test_event_actions(event: NotificationEvent, action: str) -> None:
    built = build_pagerduty_event(_alert(event))
    assert built["event_action"] == action
    assert built["dedup_key"] == DEDUP_KEY


@pytest.mark.parametrize(("severity", "expected"), [("page", "critical"), ("ticket", "warning")])
def test_severities_map_to_pagerduty(severity: str, expected: str) -> None:
    built = build_pagerduty_event(_alert(severity=severity))
    assert built["payload"]["severity"] == expected
    assert built["payload"]["summary"].startswith(severity.upper())


def test_long_summary_is_truncated_to_1024_characters() -> None:
    summary = build_pagerduty_event(_alert(slo="x" * 2000))["payload"]["summary"]
    assert len(summary) == SUMMARY_LIMIT == 1024
    assert summary.endswith("…")


def test_data_missing_alert_has_its_own_class_and_unset_links_are_left_out() -> None:
    built = build_pagerduty_event(
        _alert(data_missing_since=TEST_START - timedelta(minutes=30), runbook_url=None)
    )
    assert built["payload"]["class"] == "sli_data_missing"
    assert "no SLI data since 2026-01-05 11:30 UTC" in built["payload"]["summary"]
    assert built["payload"]["custom_details"]["data_missing_since"] == "2026-01-05T11:30:00Z"
    assert [link["text"] for link in built["links"]] == ["Dashboard", "Write a postmortem"]


def test_400_is_permanent_and_never_reveals_the_routing_key(
    pagerduty: RecordingReceiver, http_client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rejection = {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [f"'routing_key' {ROUTING_KEY} is not a known integration"],
    }
    pagerduty.reply_next_with(Reply(400, json.dumps(rejection), {"Content-Type": "application/json"}))

    result = _pagerduty_sender(http_client, pagerduty).send(build_pagerduty_event(_alert()))

    assert not result.delivered
    assert result.retry_after is None
    assert result.error is not None
    assert result.error.startswith("HTTP 400: Event object is invalid: 'routing_key' [redacted] is not")
    assert result.error.endswith("(permanent)")
    assert result.permanent
    assert is_permanent_failure(result)
    assert ROUTING_KEY not in result.error
    assert ROUTING_KEY not in caplog.text


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({}, timedelta(seconds=30)), ({"Retry-After": "7"}, timedelta(seconds=7))],
)
def test_pagerduty_429_retries_after_the_header_or_30_seconds(
    pagerduty: RecordingReceiver, http_client: httpx.Client, headers: dict[str, str], expected: timedelta
) -> None:
    pagerduty.reply_next_with(Reply(429, '{"status":"throttle event"}', headers))
    result = _pagerduty_sender(http_client, pagerduty).send(build_pagerduty_event(_alert()))
    assert not result.delivered
    assert result.retry_after == expected
    assert not is_permanent_failure(result)


def test_pagerduty_server_error_is_transient(pagerduty: RecordingReceiver, http_client: httpx.Client) -> None:
    pagerduty.reply_next_with(Reply(503, "unavailable"))
    result = _pagerduty_sender(http_client, pagerduty).send(build_pagerduty_event(_alert()))
    assert not result.delivered
    assert result.error == "HTTP 503: unavailable"
    assert not result.permanent
    assert not is_permanent_failure(result)
