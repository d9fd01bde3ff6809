"""Sending messages to a Slack incoming webhook. The webhook URL is a secret: it is never logged,
never stored, and never part of an error message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
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
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        return DeliveryResult(delivered=False, error=error, retry_after=retry_after)


def _parse_retry_after(value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        return None
