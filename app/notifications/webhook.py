"""Generic, signed JSON webhooks: a stable breach document for any receiver, and a retrain request for a
training pipeline when an ML SLO burns.

Breach document (`build_webhook_payload`), version 1. Every key is always present; a value is `null`
where it is unknown or does not apply. Times are ISO 8601 in UTC with a `Z` suffix
(`2026-01-05T12:00:00Z`); ratios are fractions (0.999 means 99.9%)::

    {
      "version": 1,
      "event": "fired" | "escalated" | "repeated" | "acknowledged" | "resolved",
      "dedup_key": "…",               # stable per SLO and severity: ties an alert's events together
                                      # (`mlslo/<system>/<slo>/<severity>` if the alert carries none)
      "severity": "page" | "ticket",
      "system": "recommender",
      "phase": "production",
      "slo": "api-availability",
      "owner": "web-team" | null,
      "owner_side": "service" | "model" | …,
      "sli_family": "conventional" | "ml",
      "model_version": "v12" | null,
      "objective": 0.999,
      "window": "30d",                # the SLO period
      "sli": 0.9981 | null,
      "burn_rates": {
        "long_window": "1h" | null, "short_window": "5m" | null,
        "long": 33.3 | null, "short": 200.0 | null, "threshold": 14.4 | null
      },
      "error_budget_remaining": 0.46, # may be negative once the budget is overspent
      "time_to_exhaustion_seconds": 36000 | null,   # whole seconds; null when not burning
      "opened_at": "2026-01-05T12:00:00Z",
      "resolved_at": "…Z" | null,
      "peak_burn_rate": 33.3,
      "budget_consumed_share": 0.13 | null,          # resolved events: share of the budget this breach used
      "data_missing_since": "…Z" | null,             # set for "SLI data missing" alerts
      "links": {"dashboard": url, "breach": url, "postmortem": url, "runbook": url | null}
    }

Retrain request (`build_retrain_request`), version 1::

    {
      "version": 1, "reason": "slo_burn", "dedup_key": "…", "system": "…", "slo": "…",
      "model_version": "v12" | null,
      "burn_rate": 33.3,              # the long-window burn rate, else the breach's peak burn rate
      "error_budget_remaining": 0.46, "sli": 0.9981 | null, "breach_id": 7,
      "opened_at": "2026-01-05T12:00:00Z",
      "links": {"dashboard": url, "breach": url, "postmortem": url, "runbook": url | null}
    }

Non-finite numbers (NaN, ±inf) are sent as `null`, so every body is strict JSON.

Delivery (`SignedWebhookSender`): `POST <url>` with the compact JSON body (UTF-8) and headers

- `Content-Type: application/json`
- `X-Mlslo-Timestamp: <unix seconds>`
- `X-Mlslo-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` when a secret is set
- `X-Mlslo-Dedup-Key: <dedup_key>` when the payload has one (the same for every event of an alert)
- `Idempotency-Key: <dedup_key>:<event or reason>:<first 16 hex of SHA-256(body)>` when the payload has a
  dedup key: a retry of the same notification repeats it, while another event, another episode of the
  same alert or changed figures get a new one (the dedup key alone is shared by every episode).

Receivers check `verify_signature(secret, timestamp_header, raw_body, signature_header)` on the raw bytes
received (before parsing), and reject stale timestamps with `timestamp_is_fresh` to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from app.core.windows import window_label
from app.notifications.messages import BreachAlert
from app.notifications.slack import DeliveryResult, parse_retry_after
from app.redaction import REDACTED, register_secret

WEBHOOK_FORMAT_VERSION = 1
RETRAIN_FORMAT_VERSION = 1
SIGNATURE_SCHEME = "sha256"
TIMESTAMP_HEADER = "X-Mlslo-Timestamp"
SIGNATURE_HEADER = "X-Mlslo-Signature"
DEDUP_KEY_HEADER = "X-Mlslo-Dedup-Key"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# How old a signed timestamp a receiver should accept (as Stripe and Slack do).
DEFAULT_SIGNATURE_TOLERANCE = timedelta(minutes=5)
ERROR_BODY_LIMIT = 200


def iso_utc(moment: datetime | None) -> str | None:
    """`2026-01-05T12:00:00Z` (microseconds only when non-zero); naive datetimes are taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def finite_number(value: float | None) -> float | None:
    """`value`, or None when it is unknown, NaN or infinite (JSON has no such numbers)."""
    return value if value is not None and math.isfinite(value) else None


def _window(value: timedelta | None) -> str | None:
    return None if value is None else window_label(value)


def _links(alert: BreachAlert) -> dict[str, str | None]:
    return {
        "dashboard": alert.dashboard_url,
        "breach": alert.breach_url,
        "postmortem": alert.postmortem_url,
        "runbook": alert.runbook_url or None,
    }


def dedup_key_for(alert: BreachAlert) -> str:
    """The alert's dedup key; `mlslo/<system>/<slo>/<severity>` for an alert built without one, so that
    every target can still tie a resolve to its trigger."""
    return alert.dedup_key or f"mlslo/{alert.system}/{alert.slo}/{alert.severity}"


def build_webhook_payload(alert: BreachAlert) -> dict[str, Any]:
    """The version-1 breach document described in this module's docstring."""
    return {
        "version": WEBHOOK_FORMAT_VERSION,
        "event": alert.event.value,
        "dedup_key": dedup_key_for(alert),
        "severity": alert.severity,
        "system": alert.system,
        "phase": alert.phase,
        "slo": alert.slo,
        "owner": alert.owner,
        "owner_side": alert.owner_side,
        "sli_family": alert.sli_family,
        "model_version": alert.model_version,
        "objective": alert.objective,
        "window": window_label(alert.period),
        "sli": finite_number(alert.sli),
        "burn_rates": {
            "long_window": _window(alert.long_window),
            "short_window": _window(alert.short_window),
            "long": finite_number(alert.long_burn_rate),
            "short": finite_number(alert.short_burn_rate),
            "threshold": finite_number(alert.burn_rate_threshold),
        },
        "error_budget_remaining": finite_number(alert.error_budget_remaining),
        "time_to_exhaustion_seconds": (
            None if alert.time_to_exhaustion is None else int(alert.time_to_exhaustion.total_seconds())
        ),
        "opened_at": iso_utc(alert.opened_at),
        "resolved_at": iso_utc(alert.resolved_at),
        "peak_burn_rate": finite_number(alert.peak_burn_rate),
        "budget_consumed_share": finite_number(alert.budget_consumed_share),
        "data_missing_since": iso_utc(alert.data_missing_since),
        "links": _links(alert),
    }


def build_retrain_request(alert: BreachAlert) -> dict[str, Any]:
    """The version-1 retrain request described in this module's docstring, for a training pipeline's
    webhook. `burn_rate` is the long-window burn rate when known, else the breach's peak burn rate."""
    burn_rate = finite_number(alert.long_burn_rate)
    if burn_rate is None:
        burn_rate = finite_number(alert.peak_burn_rate)
    return {
        "version": RETRAIN_FORMAT_VERSION,
        "reason": "slo_burn",
        "dedup_key": dedup_key_for(alert),
        "system": alert.system,
        "slo": alert.slo,
        "model_version": alert.model_version,
        "burn_rate": burn_rate,
        "error_budget_remaining": finite_number(alert.error_budget_remaining),
        "sli": finite_number(alert.sli),
        "breach_id": alert.breach_id,
        "opened_at": iso_utc(alert.opened_at),
        "links": _links(alert),
    }


def encode_body(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, keys in the payload's order; raises ValueError on NaN or infinity."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def compute_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of b"<timestamp>." + body, keyed with the secret>`."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_SCHEME}={digest.hexdigest()}"


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether `signature` (the `X-Mlslo-Signature` header, `sha256=<hex>`) signs exactly these raw body
    bytes and this `X-Mlslo-Timestamp` header with `secret`. Constant-time; never raises on bad input.
    Check `timestamp_is_fresh` as well to reject replayed requests."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    expected = compute_signature(secret, timestamp, body)
    try:
        received = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), received)


def timestamp_is_fresh(
    timestamp: str, *, now: datetime | None = None, tolerance: timedelta = DEFAULT_SIGNATURE_TOLERANCE
) -> bool:
    """Whether the `X-Mlslo-Timestamp` header (unix seconds) is within `tolerance` of `now`."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    current = (now or datetime.now(UTC)).timestamp()
    return abs(current - int(timestamp)) <= tolerance.total_seconds()


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every non-empty secret replaced by `[redacted]` (longest first)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def url_secrets(url: str) -> tuple[str, ...]:
    """The URL and the parts of it a receiver might echo back: its path and query, when they say more
    than `/` (a token in the path is as secret as the whole URL)."""
    parts = urlsplit(url)
    echoed = parts.path + (f"?{parts.query}" if parts.query else "")
    return (url, echoed) if len(echoed) > 1 else (url,)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SignedWebhookSender:
    """POSTs a JSON payload to a webhook, signed when a secret is set (see the module docstring for the
    headers). The URL and the secret are secrets: registered for log redaction, never in an error.

    Any 2xx is delivered. A 429 sets `retry_after` from `Retry-After` (seconds or HTTP date). Anything
    else gives `delivered=False` and an error string: `HTTP <status>: <start of the body>`, `timed out`,
    `transport error: <exception type>`, `invalid webhook URL` or `payload is not valid JSON: …`."""

    def __init__(
        self,
        http_client: httpx.Client,
        url: SecretStr,
        secret: SecretStr | None,
        *,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._http_client = http_client
        self._url = url
        self._secret = secret
        self._now = now
        self._secrets = url_secrets(url.get_secret_value())
        if secret is not None:
            self._secrets = (*self._secrets, secret.get_secret_value())
        for value in self._secrets:
            register_secret(value)

    def send(self, payload: dict[str, Any]) -> DeliveryResult:
        try:
            body = encode_body(payload)
        except (TypeError, ValueError) as exc:
            return DeliveryResult(delivered=False, error=f"payload is not valid JSON: {type(exc).__name__}")
        now = self._now()
        timestamp = str(int(now.timestamp()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = compute_signature(self._secret.get_secret_value(), timestamp, body)
        dedup_key = payload.get("dedup_key")
        if isinstance(dedup_key, str) and dedup_key:
            kind = payload.get("event") or payload.get("reason") or "notification"
            headers[DEDUP_KEY_HEADER] = dedup_key
            headers[IDEMPOTENCY_KEY_HEADER] = f"{dedup_key}:{kind}:{hashlib.sha256(body).hexdigest()[:16]}"
        try:
            response = self._http_client.post(self._url.get_secret_value(), content=body, headers=headers)
        except httpx.TimeoutException:
            return DeliveryResult(delivered=False, error="timed out")
        except httpx.HTTPError as exc:
            # str(exc) can contain the URL; the exception type says enough.
            return DeliveryResult(delivered=False, error=f"transport error: {type(exc).__name__}")
        except httpx.InvalidURL:
            return DeliveryResult(delivered=False, error="invalid webhook URL")
        if 200 <= response.status_code < 300:
            return DeliveryResult(delivered=True)
        # Scrub before truncating, so that no cut-off piece of a secret survives.
        error = f"HTTP {response.status_code}: {scrub(response.text, self._secrets)[:ERROR_BODY_LIMIT]}"
        retry_after = None
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        return DeliveryResult(delivered=False, error=error, retry_after=retry_after)
