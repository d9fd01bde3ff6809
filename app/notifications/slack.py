"""Sending messages to a Slack incoming webhook. The webhook URL is a secret: it is never logged,
never stored, and never part of an error message."""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from app.redaction import register_secret


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    delivered: bool
    error: str | None = None
    retry_after: timedelta | None = None
    # The receiver refused the notification itself (a 400): retrying cannot help, so it is dead at once.
    permanent: bool = False


class SlackWebhookNotifier:
    def __init__(self, http_client: httpx.Client, webhook_url: SecretStr) -> None:
        self._http_client = http_client
        self._webhook_url = webhook_url
        register_secret(webhook_url.get_secret_value())

    def send(self, payload: dict[str, Any]) -> DeliveryResult:
        try:
            response = self._http_client.post(self._webhook_url.get_secret_value(), json=payload)
        except httpx.TimeoutException:
            return DeliveryResult(delivered=False, error="timed out")
        except httpx.HTTPError as exc:
            # str(exc) can contain the URL; the exception type says enough.
            return DeliveryResult(delivered=False, error=f"transport error: {type(exc).__name__}")
        if response.status_code == 200:
            return DeliveryResult(delivered=True)
        error = f"HTTP {response.status_code}: {response.text[:200]}"
        retry_after = None
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        return DeliveryResult(delivered=False, error=error, retry_after=retry_after)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header, either delay seconds or an HTTP date (RFC 9110); None if absent/invalid.
    Shared by every sender."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(timedelta(0), moment - now)
    if not math.isfinite(seconds):
        return None
    return timedelta(seconds=max(0.0, seconds))
