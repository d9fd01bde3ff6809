"""PagerDuty Events API v2: breach alerts as trigger and resolve events.

`build_pagerduty_event` returns the event WITHOUT `routing_key` (the integration key is a secret: only
`PagerDutySender` adds it, at send time, so it is never stored in an outbox row or logged).

Trigger (events fired, escalated and repeated)::

    {
      "event_action": "trigger",
      "dedup_key": "<alert.dedup_key>",        # shared with the resolve, so it closes the same incident
      "payload": {
        "summary": "PAGE: recommender/api-availability is burning …",   # ≤ 1024 chars, truncated with …
        "source": "<system>",
        "severity": "critical" | "warning" | "error",   # page → critical, ticket → warning, other → error
        "component": "<slo>",
        "group": "<phase>",
        "class": "slo_burn" | "sli_data_missing",
        "custom_details": {
          "event": "fired" | "escalated" | "repeated",
          "objective": 0.999, "window": "30d", "sli": 0.9981 | null,
          "burn_rates": {"long_window": "1h", "short_window": "5m", "long": 33.3, "short": 200.0,
                         "threshold": 14.4},
          "error_budget_remaining": 0.46,
          "time_to_exhaustion": "10h 0m" | "not burning",
          "model_version": "v12" | null, "owner": "web-team" | null, "owner_channel": "#…" | null,
          "breach_id": 7, "opened_at": "2026-01-05T12:00:00Z", "data_missing_since": "…Z" | null
        }
      },
      "links": [{"href": url, "text": "Dashboard"}, {"href": url, "text": "Write a postmortem"},
                {"href": url, "text": "Runbook"}],      # each only when set
      "client": "mlslo",
      "client_url": "<breach url>"
    }

Resolve: `{"event_action": "resolve", "dedup_key": "<alert.dedup_key>"}`.

Delivery results (`PagerDutySender.send`): any 2xx (PagerDuty answers 202) is delivered. 429 is not
delivered with `retry_after` from `Retry-After` when present, else 30 s (PagerDuty sends none). 400 means
the event is invalid and will never be accepted: `DeliveryResult(delivered=False, permanent=True,
error="HTTP 400: <PagerDuty's message and errors> (permanent)")`, so the outbox dead-letters it at once
(`is_permanent_failure` tests for either the flag or the suffix).
Other statuses (5xx) and transport errors are transient. No error ever contains the routing key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from app.core.windows import window_label
from app.notifications.messages import BreachAlert, NotificationEvent
from app.notifications.slack import DeliveryResult, parse_retry_after
from app.notifications.slack_message import duration, percent, rate, truncate
from app.notifications.webhook import (
    ERROR_BODY_LIMIT,
    dedup_key_for,
    encode_body,
    finite_number,
    iso_utc,
    scrub,
)
from app.redaction import register_secret

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT = 1024
DEFAULT_RETRY_AFTER = timedelta(seconds=30)
PERMANENT_SUFFIX = " (permanent)"
CLIENT_NAME = "mlslo"

_SEVERITIES = {"page": "critical", "ticket": "warning"}
_STATE = {
    NotificationEvent.FIRED: "",
    NotificationEvent.ESCALATED: " (escalated)",
    NotificationEvent.REPEATED: " (still firing)",
}


def pagerduty_severity(severity: str) -> str:
    """mlslo severity → PagerDuty severity: page → critical, ticket → warning, anything else → error."""
    return _SEVERITIES.get(severity, "error")


def _summary(alert: BreachAlert) -> str:
    subject = f"{alert.system}/{alert.slo}"
    if alert.model_version:
        subject = f"{subject} (model {alert.model_version})"
    head = f"{alert.severity.upper()}{_STATE.get(alert.event, '')}: {subject}"
    if alert.data_missing_since is not None:
        text = (
            f"{head} has had no SLI data since {alert.data_missing_since:%Y-%m-%d %H:%M} UTC: its collector "
            "is failing, so the SLO can neither burn nor recover."
        )
    else:
        text = (
            f"{head} is burning its error budget at {rate(alert.long_burn_rate)} "
            f"(threshold {rate(alert.burn_rate_threshold)}); {percent(alert.error_budget_remaining, 1)} of "
            f"the budget left, exhausted in {duration(alert.time_to_exhaustion)} at this rate."
        )
    return truncate(text, SUMMARY_LIMIT)


def build_pagerduty_event(alert: BreachAlert) -> dict[str, Any]:
    """The Events API v2 body for this alert, without `routing_key` (see the module docstring)."""
    dedup_key = dedup_key_for(alert)
    if alert.event is NotificationEvent.RESOLVED:
        return {"event_action": "resolve", "dedup_key": dedup_key}
    if alert.event is NotificationEvent.ACKNOWLEDGED:
        return {"event_action": "acknowledge", "dedup_key": dedup_key}
    links = [
        {"href": href, "text": text}
        for href, text in (
            (alert.dashboard_url, "Dashboard"),
            (alert.postmortem_url, "Write a postmortem"),
            (alert.runbook_url, "Runbook"),
        )
        if href
    ]
    return {
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": _summary(alert),
            "source": alert.system,
            "severity": pagerduty_severity(alert.severity),
            "component": alert.slo,
            "group": alert.phase,
            "class": "sli_data_missing" if alert.data_missing_since is not None else "slo_burn",
            "custom_details": {
                "event": alert.event.value,
                "objective": alert.objective,
                "window": window_label(alert.period),
                "sli": finite_number(alert.sli),
                "burn_rates": {
                    "long_window": None if alert.long_window is None else window_label(alert.long_window),
                    "short_window": None if alert.short_window is None else window_label(alert.short_window),
                    "long": finite_number(alert.long_burn_rate),
                    "short": finite_number(alert.short_burn_rate),
                    "threshold": finite_number(alert.burn_rate_threshold),
                },
                "error_budget_remaining": finite_number(alert.error_budget_remaining),
                "time_to_exhaustion": duration(alert.time_to_exhaustion),
                "model_version": alert.model_version,
                "owner": alert.owner,
                "owner_channel": alert.owner_channel,
                "breach_id": alert.breach_id,
                "opened_at": iso_utc(alert.opened_at),
                "data_missing_since": iso_utc(alert.data_missing_since),
            },
        },
        "links": links,
        "client": CLIENT_NAME,
        "client_url": alert.breach_url,
    }


def is_permanent_failure(result: DeliveryResult) -> bool:
    """Whether retrying this delivery can never succeed (PagerDuty rejected the event as invalid)."""
    if result.delivered:
        return False
    return result.permanent or (result.error is not None and result.error.endswith(PERMANENT_SUFFIX))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _rejection_reason(response: httpx.Response) -> str:
    """PagerDuty's 400 body is `{"status", "message", "errors": [...]}`; fall back to the raw text."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text
    if not isinstance(body, dict):
        return response.text
    parts = [str(body["message"])] if body.get("message") else []
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        parts.append("; ".join(str(error) for error in errors))
    return ": ".join(parts) or response.text


class PagerDutySender:
    """Sends `build_pagerduty_event` bodies to the Events API v2, adding the routing key (a secret:
    registered for log redaction and scrubbed from every error). See the module docstring for results."""

    def __init__(
        self,
        http_client: httpx.Client,
        routing_key: SecretStr,
        url: str = PAGERDUTY_EVENTS_URL,
        *,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._http_client = http_client
        self._routing_key = routing_key
        self._url = url
        self._now = now
        register_secret(routing_key.get_secret_value())

    def send(self, payload: dict[str, Any]) -> DeliveryResult:
        key = self._routing_key.get_secret_value()
        event = {"routing_key": key, **{k: v for k, v in payload.items() if k != "routing_key"}}
        try:
            body = encode_body(event)
        except (TypeError, ValueError) as exc:
            return DeliveryResult(delivered=False, error=f"payload is not valid JSON: {type(exc).__name__}")
        now = self._now()
        try:
            response = self._http_client.post(
                self._url, content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.TimeoutException:
            return DeliveryResult(delivered=False, error="timed out")
        except httpx.HTTPError as exc:
            return DeliveryResult(delivered=False, error=f"transport error: {type(exc).__name__}")
        except httpx.InvalidURL:
            return DeliveryResult(delivered=False, error="invalid PagerDuty URL")
        status = response.status_code
        if 200 <= status < 300:
            return DeliveryResult(delivered=True)
        if status == 400:
            reason = scrub(_rejection_reason(response), (key,))[:ERROR_BODY_LIMIT]
            return DeliveryResult(
                delivered=False, error=f"HTTP 400: {reason}{PERMANENT_SUFFIX}", permanent=True
            )
        error = f"HTTP {status}: {scrub(response.text, (key,))[:ERROR_BODY_LIMIT]}"
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
            if retry_after is None:
                retry_after = DEFAULT_RETRY_AFTER
            return DeliveryResult(delivered=False, error=error, retry_after=retry_after)
        return DeliveryResult(delivered=False, error=error)
