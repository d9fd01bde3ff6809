"""A small client that ML systems import to push their events to mlslo.

    with MlsloClient("http://mlslo:8000", api_key="mlslo_...", system="recommender") as client:
        client.record_request(latency_ms=123.0, succeeded=True)
        client.record_job_run(job="nightly-build", started_at=..., finished_at=..., succeeded=True)
        client.record_prediction(prediction_id="p1", model_version="v3", label=1, score=0.93)
        client.record_label(prediction_id="p1", label=0)  # later, when the truth is known

Events are buffered and sent in batches; failed deliveries are retried with exponential backoff;
events that could not be delivered are kept in `client.unsent`, never dropped silently. It needs
only httpx and the standard library (see docs/client.md).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time as time_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

import httpx

DEFAULT_BATCH_SIZE: Final = 1_000
MAX_BATCH_SIZE: Final = 10_000  # the server's limit per request
DEFAULT_MAX_ATTEMPTS: Final = 5


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One request the system served."""

    time: datetime
    latency_ms: float
    succeeded: bool


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a batch job."""

    job: str
    started_at: datetime
    finished_at: datetime
    succeeded: bool
    rows_processed: int | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    """One prediction the model served."""

    prediction_id: str
    time: datetime
    model_version: str
    label: str | int | float | bool | None = None
    value: float | None = None
    score: float | None = None
    probabilities: Mapping[str, float] | None = None
    features: Mapping[str, Any] | None = None
    data_version: str | None = None


@dataclass(frozen=True, slots=True)
class Label:
    """The ground truth of one served prediction, known later."""

    prediction_id: str
    label: str | int | float | bool


Event = RequestEvent | JobRun | Prediction | Label


class MlsloClientError(Exception):
    """The server refused a batch (a 4xx other than 429): retrying the same body cannot help.

    `detail` is the server's answer, `fields` the body fields it named (e.g. "events.3.time"),
    `events` the refused batch, which the client does not keep."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: Any = None,
        fields: Sequence[str] = (),
        events: Sequence[Event] = (),
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.fields = tuple(fields)
        self.events = tuple(events)


class MlsloDeliveryError(MlsloClientError):
    """A batch could not be delivered after every attempt (connection errors, 429 or 5xx).

    Its events are kept in `client.unsent` and sent again, first, by the next flush()."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        status_code: int | None = None,
        detail: Any = None,
        events: Sequence[Event] = (),
    ) -> None:
        super().__init__(message, status_code=status_code, detail=detail, events=events)
        self.attempts = attempts


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got {value!r}")
    return value.astimezone(UTC)


def _retry_after_seconds(header: str | None, now: datetime) -> float | None:
    """The wait a Retry-After header asks for: delta-seconds or an HTTP date; None if absent or bad."""
    if header is None:
        return None
    value = header.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - now).total_seconds())
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _error_detail(response: httpx.Response) -> tuple[Any, list[str], str]:
    """The server's `detail`, the fields it names and a readable summary."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:500]
        return text, [], text or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        fields: list[str] = []
        parts: list[str] = []
        for item in detail:
            if not isinstance(item, dict):
                parts.append(str(item))
                continue
            location = item.get("loc")
            field = item.get("field")
            if not field and isinstance(location, list):
                field = ".".join(str(part) for part in location if part != "body")
            if field:
                fields.append(str(field))
            message = str(item.get("msg", item))
            parts.append(f"{field}: {message}" if field else message)
        return detail, fields, "; ".join(parts)
    return detail, [], str(detail)


def _request_columns(batch: Sequence[Any]) -> dict[str, Any]:
    return {
        "time": [event.time.isoformat() for event in batch],
        "latency_ms": [event.latency_ms for event in batch],
        "outcome": ["success" if event.succeeded else "error" for event in batch],
    }


def _prediction_body(prediction: Prediction) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": prediction.prediction_id,
        "time": prediction.time.isoformat(),
        "model_version": prediction.model_version,
    }
    for name in ("label", "value", "score", "data_version"):
        if getattr(prediction, name) is not None:
            body[name] = getattr(prediction, name)
    for name in ("probabilities", "features"):
        if getattr(prediction, name) is not None:
            body[name] = dict(getattr(prediction, name))
    return body


@dataclass
class _Stream:
    """One kind of event: where its batches go, how a batch becomes a body, what waits."""

    path: str
    body: Callable[[Sequence[Any]], dict[str, Any]]
    buffered: list[Any]
    unsent: list[Any]


def _run_body(run: JobRun) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job": run.job,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "outcome": "success" if run.succeeded else "failure",
    }
    if run.rows_processed is not None:
        body["rows_processed"] = run.rows_processed
    return body


class MlsloClient:
    """Buffers request events and job runs of one system and pushes them to mlslo in batches.

    Thread-safe: record from any thread; one batch is sent at a time. Use it as a context manager
    (or call close()) so the last events are flushed."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        system: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        timeout_s: float = 10.0,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time_module.sleep,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if not system:
            raise ValueError("system must not be empty")
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "mlslo-client"}
        self.system = system
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._now = now
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout_s, transport=transport)
        self._lock = threading.RLock()
        system_path = f"/api/v1/systems/{quote(system, safe='')}"
        # Flushed in this order: labels after the predictions they refer to.
        self._streams = {
            RequestEvent: _Stream(f"{system_path}/request-events", _request_columns, [], []),
            JobRun: _Stream(
                f"{system_path}/job-runs", lambda batch: {"runs": [_run_body(run) for run in batch]}, [], []
            ),
            Prediction: _Stream(
                f"{system_path}/predictions",
                lambda batch: {"predictions": [_prediction_body(p) for p in batch]},
                [],
                [],
            ),
            Label: _Stream(
                f"{system_path}/labels",
                lambda batch: {
                    "labels": [
                        {"prediction_id": label.prediction_id, "label": label.label} for label in batch
                    ]
                },
                [],
                [],
            ),
        }
        self._closed = False

    # --- Recording ---------------------------------------------------------------------------------

    def record_request(self, *, latency_ms: float, succeeded: bool, time: datetime | None = None) -> None:
        """Buffer one served request; `time` (timezone-aware) defaults to now in UTC. A full batch
        is sent at once."""
        latency = float(latency_ms)
        if not math.isfinite(latency) or latency < 0:
            raise ValueError(f"latency_ms must be a finite number >= 0, got {latency_ms!r}")
        moment = self._now() if time is None else time
        self._record(RequestEvent(time=_aware(moment, "time"), latency_ms=latency, succeeded=bool(succeeded)))

    def record_job_run(
        self,
        *,
        job: str,
        started_at: datetime,
        finished_at: datetime,
        succeeded: bool,
        rows_processed: int | None = None,
    ) -> None:
        """Buffer one run of a batch job (times timezone-aware). A full batch is sent at once."""
        if not job:
            raise ValueError("job must not be empty")
        start, end = _aware(started_at, "started_at"), _aware(finished_at, "finished_at")
        if end < start:
            raise ValueError(f"finished_at {end.isoformat()} is before started_at {start.isoformat()}")
        if rows_processed is not None and rows_processed < 0:
            raise ValueError(f"rows_processed must be >= 0, got {rows_processed}")
        self._record(
            JobRun(
                job=job,
                started_at=start,
                finished_at=end,
                succeeded=bool(succeeded),
                rows_processed=rows_processed,
            )
        )

    def record_prediction(
        self,
        *,
        prediction_id: str,
        model_version: str,
        label: str | int | float | bool | None = None,
        value: float | None = None,
        score: float | None = None,
        probabilities: Mapping[str, float] | None = None,
        features: Mapping[str, Any] | None = None,
        data_version: str | None = None,
        time: datetime | None = None,
    ) -> None:
        """Buffer one served prediction: a classifier's `label` (with `score`, the positive class's
        probability, or `probabilities`), or a regressor's `value`; `features` feed drift checks.
        `time` (timezone-aware) defaults to now in UTC."""
        if not prediction_id or not model_version:
            raise ValueError("prediction_id and model_version must not be empty")
        if (label is None) == (value is None):
            raise ValueError("give the predicted label (classifiers) or value (regressors), not both")
        if score is not None and not 0.0 <= score <= 1.0:
            raise ValueError(f"score is a probability between 0 and 1, got {score!r}")
        moment = self._now() if time is None else time
        self._record(
            Prediction(
                prediction_id=prediction_id,
                time=_aware(moment, "time"),
                model_version=model_version,
                label=label,
                value=value,
                score=score,
                probabilities=probabilities,
                features=features,
                data_version=data_version,
            )
        )

    def record_label(self, *, prediction_id: str, label: str | int | float | bool) -> None:
        """Buffer the ground truth of an earlier prediction. Labels are sent after the predictions
        buffered with them; mlslo counts each at its prediction's time."""
        if not prediction_id:
            raise ValueError("prediction_id must not be empty")
        self._record(Label(prediction_id=prediction_id, label=label))

    def register_model_version(
        self,
        *,
        version: str,
        trained_at: datetime,
        succeeded: bool = True,
        metrics: Mapping[str, float] | None = None,
        data_version: str | None = None,
        evaluation_set: str | None = None,
        evaluation_predictions: Sequence[str | int | float | bool] | None = None,
        evaluation_labels: Sequence[str | int | float | bool] | None = None,
        serving: bool = False,
    ) -> dict[str, Any]:
        """Register a retrain at once (not batched): its outcome, metrics and, optionally, its
        predictions on a fixed evaluation set, from which mlslo computes retrain stability."""
        body: dict[str, Any] = {
            "version": version,
            "trained_at": _aware(trained_at, "trained_at").isoformat(),
            "outcome": "succeeded" if succeeded else "failed",
            "metrics": dict(metrics or {}),
            "serving": serving,
        }
        if data_version is not None:
            body["data_version"] = data_version
        if evaluation_set is not None:
            body["evaluation_set"] = {
                "name": evaluation_set,
                "predictions": None if evaluation_predictions is None else list(evaluation_predictions),
                "labels": None if evaluation_labels is None else list(evaluation_labels),
            }
        return self._post_now(f"/api/v1/systems/{quote(self.system, safe='')}/model-versions", body)

    def push_reading(
        self, *, slo: str, value: float, time: datetime | None = None, model_version: str | None = None
    ) -> dict[str, Any]:
        """Send at once a reading computed elsewhere (an offline robustness run) for a push value SLO."""
        moment = self._now() if time is None else time
        reading: dict[str, Any] = {"time": _aware(moment, "time").isoformat(), "value": float(value)}
        if model_version is not None:
            reading["model_version"] = model_version
        path = f"/api/v1/systems/{quote(self.system, safe='')}/slos/{quote(slo, safe='')}/readings"
        return self._post_now(path, {"readings": [reading]})

    # --- Sending -----------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Events buffered and not yet tried."""
        with self._lock:
            return sum(len(stream.buffered) for stream in self._streams.values())

    @property
    def unsent(self) -> list[Event]:
        """Events a flush could not deliver after every attempt (the failed batch and those queued
        behind it); the next flush() sends them first."""
        with self._lock:
            return [event for stream in self._streams.values() for event in stream.unsent]

    def discard_unsent(self) -> list[Event]:
        """Take the unsent events out of the client (to store them elsewhere, or give up on them)."""
        with self._lock:
            taken = self.unsent
            for stream in self._streams.values():
                stream.unsent.clear()
            return taken

    def flush(self) -> None:
        """Send everything unsent and buffered. Raises MlsloDeliveryError (the batch kept in
        `unsent`) or MlsloClientError (the batch refused and dropped); events not yet tried stay
        buffered for the next flush."""
        with self._lock:
            for stream in self._streams.values():
                self._flush(stream)

    def close(self) -> None:
        """Flush, then release the HTTP client (unless it was passed in)."""
        with self._lock:
            if self._closed:
                return
            try:
                self.flush()
            finally:
                self._closed = True
                if self._owns_http:
                    self._http.close()

    def __enter__(self) -> MlsloClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
            return
        # The block failed already: still try to deliver, but do not hide its exception; what
        # could not be sent stays in `unsent`.
        with contextlib.suppress(MlsloClientError):
            self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the client is closed")

    def _record(self, event: Event) -> None:
        with self._lock:
            self._check_open()
            stream = self._streams[type(event)]
            stream.buffered.append(event)
            if len(stream.buffered) >= self.batch_size:
                if isinstance(event, Label):
                    # A label refers to a prediction: those buffered go first.
                    self._flush(self._streams[Prediction])
                self._flush(stream)

    def _flush(self, stream: _Stream) -> None:
        while stream.unsent or stream.buffered:
            source = stream.unsent or stream.buffered
            batch = source[: self.batch_size]
            try:
                self._send(stream.path, stream.body(batch), batch)
            except MlsloDeliveryError:
                # The failed batch and everything behind it wait in `unsent`.
                stream.unsent.extend(stream.buffered)
                stream.buffered.clear()
                raise
            except MlsloClientError:
                del source[: len(batch)]  # refused: retrying the same body cannot help
                raise
            del source[: len(batch)]

    def _post_now(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST one body at once, with the batches' retries; the server's answer."""
        with self._lock:
            self._check_open()
            response = self._send(path, body, [])
        answer: dict[str, Any] = response.json()
        return answer

    def _backoff(self, attempt: int) -> float:
        return float(min(self._backoff_max_s, self._backoff_initial_s * 2 ** (attempt - 1)))

    def _send(self, path: str, body: dict[str, Any], batch: Sequence[Event]) -> httpx.Response:
        """POST one batch, retrying connection errors, 429 and 5xx with exponential backoff."""
        url = self._base_url + path
        last_status: int | None = None
        last_detail: Any = None
        reason = ""
        for attempt in range(1, self.max_attempts + 1):
            wait = self._backoff(attempt)
            try:
                response = self._http.post(url, json=body, headers=self._headers)
            except httpx.TransportError as error:
                last_status, last_detail = None, None
                reason = f"{type(error).__name__}: {error}"
            else:
                if response.is_success:
                    return response
                detail, fields, summary = _error_detail(response)
                status = response.status_code
                if status != 429 and status < 500:
                    raise MlsloClientError(
                        f"mlslo refused POST {path} ({status}): {summary}",
                        status_code=status,
                        detail=detail,
                        fields=fields,
                        events=batch,
                    )
                last_status, last_detail, reason = status, detail, f"{status}: {summary}"
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"), self._now())
                if retry_after is not None:
                    if retry_after > self._max_retry_after_s:
                        raise MlsloDeliveryError(
                            f"mlslo asked to retry POST {path} after {retry_after:.0f}s, longer than "
                            f"{self._max_retry_after_s:.0f}s; {len(batch)} events kept in client.unsent",
                            attempts=attempt,
                            status_code=status,
                            detail=detail,
                            events=batch,
                        )
                    wait = retry_after
            if attempt < self.max_attempts:
                self._sleep(wait)
        raise MlsloDeliveryError(
            f"could not deliver POST {path} after {self.max_attempts} attempts (last: {reason}); "
            f"{len(batch)} events kept in client.unsent",
            attempts=self.max_attempts,
            status_code=last_status,
            detail=last_detail,
            events=batch,
        )
