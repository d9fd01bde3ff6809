"""Whether a request event counts as good for a request-based SLI."""

from __future__ import annotations

import enum


class RequestSliKind(enum.StrEnum):
    LATENCY = "latency"
    ERROR_RATE = "error_rate"


def request_is_good(
    kind: RequestSliKind, *, latency_ms: float, succeeded: bool, threshold_ms: float | None
) -> bool:
    """Latency SLIs count every request and call it good when it was fast enough; error-rate SLIs
    call a request good when it succeeded."""
    if kind is RequestSliKind.LATENCY:
        if threshold_ms is None:
            raise ValueError("a latency SLI needs a threshold")
        return latency_ms <= threshold_ms
    return succeeded
