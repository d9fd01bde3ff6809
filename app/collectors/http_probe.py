"""Black-box HTTP probes: one request is one event, for availability and latency SLIs.

An endpoint that times out, refuses the connection or answers badly is a *bad* event, not an
error: that is what availability measures. Only a probe that cannot be attempted at all (a
definition without a usable URL) raises `CollectionError`.

Redirects are not followed (httpx's default): a 3xx answer is judged as it is, so a probe never
silently ends up measuring another host. List 301/302 in `expected_status` to accept one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx

from app.collectors.results import Collected, CollectionError, timeout_seconds

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
_METHODS = frozenset({"GET", "HEAD", "POST"})


def probe(
    *,
    http_client: httpx.Client,
    config: Mapping[str, Any],
    sli_kind: str,
    threshold_ms: float | None,
    timer: Callable[[], float] = time.perf_counter,
) -> Collected:
    """Send one probe as `config` (the definition's `sli.http_probe` block) describes and judge it.

    Good when the status is one of `expected_status` (default [200]), the body contains
    `expected_body` (if set), the whole exchange took no longer than `timeout` (default 5s), and,
    for a latency SLI, no longer than `threshold_ms`. `timer` gives seconds (perf_counter)."""
    url = config.get("url")
    if not url:
        raise CollectionError("http_probe.url is not set")
    method = str(config.get("method") or "GET").upper()
    if method not in _METHODS:
        raise CollectionError(f"http_probe.method {method!r} is not one of GET, HEAD, POST")
    expected_status = _expected_status(config.get("expected_status"))
    expected_body = config.get("expected_body")
    if expected_body is not None and not isinstance(expected_body, str):
        raise CollectionError("http_probe.expected_body must be a string")
    timeout = timeout_seconds(config.get("timeout"), default=DEFAULT_TIMEOUT_SECONDS)
    is_latency = sli_kind == "latency"
    if is_latency and threshold_ms is None:
        raise CollectionError("a latency SLI probed over HTTP needs threshold_ms")

    started = timer()
    try:
        response = http_client.request(method, str(url), timeout=timeout)
    except httpx.InvalidURL:
        raise CollectionError("http_probe.url is not a valid URL") from None
    except httpx.TimeoutException:
        return _bad("timed out")
    except httpx.RequestError as exc:
        # Connection refused, DNS failure, reset, undecodable body: the endpoint is not serving.
        # str(exc) can contain the URL; the exception type says enough.
        return _bad(f"transport error: {type(exc).__name__}")
    elapsed_ms = (timer() - started) * 1000

    if response.status_code not in expected_status:
        return _bad(f"status {response.status_code} not in {sorted(expected_status)}")
    if expected_body is not None and expected_body not in response.text:
        return _bad("expected body text not found")
    # httpx's timeout bounds each phase (connect, read between bytes), not the whole exchange.
    if elapsed_ms > timeout * 1000:
        return _bad(f"took {elapsed_ms:.0f}ms, longer than the {timeout * 1000:.0f}ms timeout")
    if is_latency and threshold_ms is not None and elapsed_ms > threshold_ms:
        return _bad(f"took {elapsed_ms:.0f}ms, over the {threshold_ms:g}ms threshold")
    return Collected(good=1, total=1)


def _expected_status(value: object) -> Collection[int]:
    if value is None:
        return frozenset({200})
    if isinstance(value, int) and not isinstance(value, bool):
        return frozenset({value})
    if isinstance(value, list | tuple | set | frozenset) and value:
        codes = set()
        for code in value:
            if isinstance(code, bool) or not isinstance(code, int):
                raise CollectionError("http_probe.expected_status must be a list of status codes")
            codes.add(code)
        return frozenset(codes)
    raise CollectionError("http_probe.expected_status must be a non-empty list of status codes")


def _bad(reason: str) -> Collected:
    logger.debug("http probe failed: %s", reason)
    return Collected(good=0, total=1)
