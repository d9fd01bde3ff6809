"""Counting good and total events with PromQL against a Prometheus server's HTTP API.

The definition's `sli.prometheus` block gives `total` with one of `good` or `bad`. In each query,
Sloth's `{{.window}}` placeholder (also written `{{ .window }}`) is replaced by the window as a
Prometheus duration (`1m`, `5m`, `1h`), e.g. `sum(increase(http_requests_total[{{.window}}]))`.

`query_counts` runs instant queries for live collection; `range_counts` runs range queries, one
point per step, to fill history (`mlslo backfill`).

Each query must give a scalar or at most one series: an empty result means no data, which counts
as zero events (a query of the whole window with no samples saw nothing). Several series are an
error (the query is missing a `sum(...)`), as are non-finite values and Prometheus' own errors.

Rounding: `increase()` extrapolates to the window's edges, so counts can be fractional (and, for
`good` and `total` queried separately, can disagree slightly). Each count is rounded to the
nearest integer (halves up), then clamped so that 0 <= good <= total: with `bad`, good is
total - bad once bad is clamped to [0, total].

A `value` query gives one number per window instead: the value of a value SLI (an age, a score),
or, for an event SLI, the share of good events (a ratio query, like Sloth's `errorRatioQuery`
turned around), which must lie in [0, 1]. `query_value` and `range_values` collect them. For a
value there is no "zero" to fall back on, so an empty result, or NaN (a ratio of a window without
events), is no data: a gap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.collectors.results import Collected, CollectionError, Reading, timeout_seconds
from app.core.windows import window_label

DEFAULT_TIMEOUT_SECONDS = 10.0
_MESSAGE_LIMIT = 300
# Prometheus refuses range queries of more than 11,000 points per series.
_MAX_POINTS_PER_QUERY = 10_000
_WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")


def query_counts(
    *,
    http_client: httpx.Client,
    base_url: str,
    config: Mapping[str, Any],
    window: timedelta,
    at: datetime,
) -> Collected:
    """Good and total events in the `window` ending at `at`, from instant queries of the
    definition's `sli.prometheus` block (`config`). Raises CollectionError when there is no usable
    answer."""
    good_query, bad_query, total_query = _event_queries(config, window)
    timeout = timeout_seconds(config.get("timeout"), default=DEFAULT_TIMEOUT_SECONDS)
    params = {"time": _unix(at)}
    total = _instant(http_client, base_url, total_query, params, timeout, "total")
    if good_query is not None:
        good = _instant(http_client, base_url, good_query, params, timeout, "good")
        return _counts(good=good, bad=None, total=total)
    assert bad_query is not None
    bad = _instant(http_client, base_url, bad_query, params, timeout, "bad")
    return _counts(good=None, bad=bad, total=total)


def query_value(
    *,
    http_client: httpx.Client,
    base_url: str,
    config: Mapping[str, Any],
    window: timedelta,
    at: datetime,
    ratio: bool,
) -> Reading:
    """The `value` query's number for the `window` ending at `at`; with `ratio`, a good ratio that
    must lie in [0, 1]. Raises CollectionError when there is no usable answer (no data included)."""
    query = _value_query(config, window)
    timeout = timeout_seconds(config.get("timeout"), default=DEFAULT_TIMEOUT_SECONDS)
    number = _instant_number(http_client, base_url, query, {"time": _unix(at)}, timeout, "value")
    if number is None:
        raise CollectionError("prometheus value query gave no data")
    return _reading(number, ratio=ratio)


def range_values(
    *,
    http_client: httpx.Client,
    base_url: str,
    config: Mapping[str, Any],
    step: timedelta,
    start: datetime,
    end: datetime,
    ratio: bool,
) -> list[tuple[datetime, Reading]]:
    """The `value` query's number per `step`, like `range_counts`: one `(t, Reading)` for each
    t = start + step, ... up to `end`, describing (t - step, t]. Steps without data (or NaN) are
    left out: they are gaps, not zeros."""
    first, last, step_seconds = _range_bounds(start, end, step)
    if last < first:
        return []
    query = _value_query(config, step)
    timeout = timeout_seconds(config.get("timeout"), default=DEFAULT_TIMEOUT_SECONDS)
    results: list[tuple[datetime, Reading]] = []
    for chunk_start, chunk_end in _chunks(first, last, step):
        params = {"start": _unix(chunk_start), "end": _unix(chunk_end), "step": str(step_seconds)}
        values = _range(http_client, base_url, query, params, timeout, "value", allow_nan=True)
        at = chunk_start
        while at <= chunk_end:
            number = values.get(_unix(at))
            if number is not None and math.isfinite(number):
                results.append((at, _reading(number, ratio=ratio)))
            at += step
    return results


def _reading(number: float, *, ratio: bool) -> Reading:
    if ratio and not 0.0 <= number <= 1.0:
        raise CollectionError(
            f"prometheus value query gave {number:g}; for an event SLI it must be the share of good "
            "events, between 0 and 1"
        )
    return Reading(number)


def range_counts(
    *,
    http_client: httpx.Client,
    base_url: str,
    config: Mapping[str, Any],
    step: timedelta,
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, Collected]]:
    """Good and total events per `step` from `start` to `end`, from range queries with
    `{{.window}}` set to the step: one `(t, Collected)` for each t = start + step, start + 2 step,
    ... up to `end`, counting the events in (t - step, t]. Steps without data count zero events.
    Together the steps cover `start` to the last t, so their sum is that span's count."""
    first, last, step_seconds = _range_bounds(start, end, step)
    if last < first:
        return []
    good_query, bad_query, total_query = _event_queries(config, step)
    timeout = timeout_seconds(config.get("timeout"), default=DEFAULT_TIMEOUT_SECONDS)

    results: list[tuple[datetime, Collected]] = []
    for chunk_start, chunk_end in _chunks(first, last, step):
        params = {"start": _unix(chunk_start), "end": _unix(chunk_end), "step": str(step_seconds)}
        total = _range(http_client, base_url, total_query, params, timeout, "total")
        other_query, other_name = (good_query, "good") if good_query is not None else (bad_query, "bad")
        assert other_query is not None
        other = _range(http_client, base_url, other_query, params, timeout, other_name)
        at = chunk_start
        while at <= chunk_end:
            key = _unix(at)
            total_value = total.get(key, 0.0)
            other_value = other.get(key, 0.0)
            if other_name == "good":
                collected = _counts(good=other_value, bad=None, total=total_value)
            else:
                collected = _counts(good=None, bad=other_value, total=total_value)
            results.append((at, collected))
            at += step
    return results


def _range_bounds(start: datetime, end: datetime, step: timedelta) -> tuple[datetime, datetime, int]:
    """The first and last evaluation times of a range query, and the step in whole seconds."""
    if step.total_seconds() < 1 or step.total_seconds() != int(step.total_seconds()):
        raise CollectionError("the step must be a whole number of seconds, at least 1s")
    return _aware(start) + step, _aware(end), int(step.total_seconds())


def _chunks(first: datetime, last: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
    """[first, last] cut into spans of at most `_MAX_POINTS_PER_QUERY` steps."""
    spans = []
    chunk_start = first
    while chunk_start <= last:
        chunk_end = min(last, chunk_start + step * (_MAX_POINTS_PER_QUERY - 1))
        spans.append((chunk_start, chunk_end))
        chunk_start = chunk_end + step
    return spans


def render_query(query: str, window: timedelta) -> str:
    """`query` with each `{{.window}}` (or `{{ .window }}`) replaced by `window` in Prometheus'
    duration syntax."""
    return _WINDOW_PLACEHOLDER.sub(window_label(window), query)


def _event_queries(config: Mapping[str, Any], window: timedelta) -> tuple[str | None, str | None, str]:
    """(good, bad, total) with the window filled in; exactly one of good and bad is set."""
    good, bad, total = (config.get(name) for name in ("good", "bad", "total"))
    for name, query in (("good", good), ("bad", bad), ("total", total)):
        if query is not None and (not isinstance(query, str) or not query.strip()):
            raise CollectionError(f"prometheus.{name} must be a non-empty PromQL query")
    if not isinstance(total, str) or (good is None) == (bad is None):
        raise CollectionError("prometheus: give `total` with one of `good` or `bad`")
    return (
        render_query(good, window) if isinstance(good, str) else None,
        render_query(bad, window) if isinstance(bad, str) else None,
        render_query(total, window),
    )


def _value_query(config: Mapping[str, Any], window: timedelta) -> str:
    value = config.get("value")
    if not isinstance(value, str) or not value.strip():
        raise CollectionError("prometheus.value must be a non-empty PromQL query")
    return render_query(value, window)


def _counts(*, good: float | None, bad: float | None, total: float) -> Collected:
    total_count = max(0, _round(total))
    if good is not None:
        return Collected(good=min(max(0, _round(good)), total_count), total=total_count)
    assert bad is not None
    bad_count = min(max(0, _round(bad)), total_count)
    return Collected(good=total_count - bad_count, total=total_count)


def _round(value: float) -> int:
    """Nearest integer, halves up (Python's round() sends halves to the even neighbour)."""
    return math.floor(value + 0.5)


def _instant(
    client: httpx.Client, base_url: str, query: str, params: Mapping[str, str], timeout: float, name: str
) -> float:
    """A count from an instant query: no series means zero events."""
    number = _instant_number(client, base_url, query, params, timeout, name)
    return 0.0 if number is None else number


def _instant_number(
    client: httpx.Client, base_url: str, query: str, params: Mapping[str, str], timeout: float, name: str
) -> float | None:
    """The single number an instant query gives, or None when it gives no series."""
    data = _get(client, f"{base_url.rstrip('/')}/api/v1/query", {**params, "query": query}, timeout, name)
    result_type, result = data.get("resultType"), data.get("result")
    if result_type == "scalar":
        return _sample_value(result, name)
    if result_type != "vector" or not isinstance(result, list):
        raise CollectionError(f"prometheus {name} query gave a {result_type!r} result, expected a number")
    if not result:
        return None
    if len(result) > 1:
        raise CollectionError(
            f"prometheus {name} query gave {len(result)} series, expected one: aggregate it with sum(...)"
        )
    series = result[0]
    return _sample_value(series.get("value") if isinstance(series, dict) else None, name)


def _range(
    client: httpx.Client,
    base_url: str,
    query: str,
    params: Mapping[str, str],
    timeout: float,
    name: str,
    *,
    allow_nan: bool = False,
) -> dict[str, float]:
    """Values by timestamp (as the `_unix` string) of the single series a range query gives; with
    `allow_nan`, NaN samples are returned rather than refused (the caller treats them as gaps)."""
    url = f"{base_url.rstrip('/')}/api/v1/query_range"
    data = _get(client, url, {**params, "query": query}, timeout, name)
    result_type, result = data.get("resultType"), data.get("result")
    if result_type != "matrix" or not isinstance(result, list):
        raise CollectionError(
            f"prometheus {name} range query gave a {result_type!r} result, expected a matrix"
        )
    if not result:
        return {}
    if len(result) > 1:
        raise CollectionError(
            f"prometheus {name} query gave {len(result)} series, expected one: aggregate it with sum(...)"
        )
    series = result[0]
    values = series.get("values") if isinstance(series, dict) else None
    if not isinstance(values, list):
        raise CollectionError(f"prometheus {name} range query gave a malformed series")
    by_time: dict[str, float] = {}
    for sample in values:
        if not isinstance(sample, list) or len(sample) != 2 or not isinstance(sample[0], int | float):
            raise CollectionError(f"prometheus {name} range query gave a malformed sample")
        by_time[_unix(datetime.fromtimestamp(sample[0], tz=UTC))] = _sample_value(
            sample, name, allow_nan=allow_nan
        )
    return by_time


def _get(
    client: httpx.Client, url: str, params: Mapping[str, str], timeout: float, name: str
) -> Mapping[str, Any]:
    """The `data` of a successful Prometheus API answer."""
    try:
        response = client.get(url, params=dict(params), timeout=timeout)
    except httpx.InvalidURL:
        raise CollectionError("the Prometheus URL is not a valid URL") from None
    except httpx.TimeoutException:
        raise CollectionError(f"prometheus {name} query timed out after {timeout:g}s") from None
    except httpx.RequestError as exc:
        detail = f": {exc}" if str(exc) else ""
        raise CollectionError(_cap(f"cannot reach Prometheus ({type(exc).__name__}){detail}")) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        error_type = body.get("errorType") or "error"
        raise CollectionError(_cap(f"prometheus {name} query failed ({error_type}): {body.get('error')}"))
    if response.is_error:
        raise CollectionError(_cap(f"prometheus answered HTTP {response.status_code}: {response.text}"))
    if (
        not isinstance(body, dict)
        or body.get("status") != "success"
        or not isinstance(body.get("data"), dict)
    ):
        raise CollectionError(_cap(f"prometheus gave an unexpected answer: {response.text}"))
    data: Mapping[str, Any] = body["data"]
    return data


def _sample_value(sample: object, name: str, *, allow_nan: bool = False) -> float:
    """The number in a `[timestamp, "value"]` pair; NaN (unless allowed) and infinities are refused."""
    if not isinstance(sample, list) or len(sample) != 2 or not isinstance(sample[1], str):
        raise CollectionError(f"prometheus {name} query gave a malformed sample")
    try:
        value = float(sample[1])
    except ValueError:
        raise CollectionError(
            _cap(f"prometheus {name} query gave a non-numeric value {sample[1]!r}")
        ) from None
    if math.isnan(value) and allow_nan:
        return value
    if math.isnan(value) and name == "value":
        raise CollectionError(
            "prometheus value query gave NaN: no data in the window (for a ratio, no events)"
        )
    if not math.isfinite(value):
        raise CollectionError(f"prometheus {name} query gave {sample[1]}, not a finite number")
    return value


def _unix(moment: datetime) -> str:
    """Unix seconds as Prometheus takes and gives them (milliseconds at most)."""
    milliseconds = round(_aware(moment).timestamp() * 1000)
    seconds, remainder = divmod(milliseconds, 1000)
    return f"{seconds}.{remainder:03d}" if remainder else str(seconds)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("datetimes given to the Prometheus collector must be timezone-aware")
    return moment


def _cap(message: str) -> str:
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…"
