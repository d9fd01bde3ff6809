"""HTTP probes against a real local HTTP server: scripted status, body and delay, a closed port,
and a delay beyond the timeout. One probe is one event; latency is judged with an injected timer."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.collectors.http_probe import probe
from app.collectors.results import Collected, CollectionError


class _Handler(BaseHTTPRequestHandler):
    """Answers as the query string says: ?status=503&body=text&delay=0.5&location=url."""

    def _answer(self) -> None:
        params = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
        time.sleep(float(params.get("delay", "0")))
        body = params.get("body", "ok").encode()
        try:
            self.send_response(int(params.get("status", "200")))
            if "location" in params:
                self.send_header("Location", params["location"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass  # The prober gave up (timeout) and closed the connection.

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _timer(*readings: float) -> Callable[[], float]:
    values = iter(readings)
    return lambda: next(values)


def _availability(http_client: httpx.Client, **config: Any) -> Collected:
    return probe(http_client=http_client, config=config, sli_kind="error_rate", threshold_ms=None)


GOOD = Collected(good=1, total=1)
BAD = Collected(good=0, total=1)


def test_expected_status_is_one_good_event(http_client: httpx.Client, base_url: str) -> None:
    assert _availability(http_client, url=f"{base_url}/health") == GOOD


def test_unexpected_status_is_one_bad_event(http_client: httpx.Client, base_url: str) -> None:
    assert _availability(http_client, url=f"{base_url}/health?status=503") == BAD


def test_expected_status_list_accepts_any_listed_code(http_client: httpx.Client, base_url: str) -> None:
    url = f"{base_url}/?status=204&body="
    assert _availability(http_client, url=url, expected_status=[200, 204]) == GOOD
    assert _availability(http_client, url=url) == BAD


def test_expected_body_substring(http_client: httpx.Client, base_url: str) -> None:
    url = f"{base_url}/?body=status:healthy"
    assert _availability(http_client, url=url, expected_body="healthy") == GOOD
    assert _availability(http_client, url=url, expected_body="degraded") == BAD
    # The body only counts when the status is expected too.
    assert _availability(http_client, url=f"{url}&status=500", expected_body="healthy") == BAD


@pytest.mark.parametrize("method", ["HEAD", "POST"])
def test_method_is_used(http_client: httpx.Client, base_url: str, method: str) -> None:
    assert (
        _availability(http_client, url=f"{base_url}/?status=202", method=method, expected_status=[202])
        == GOOD
    )


def test_redirect_is_not_followed(http_client: httpx.Client, base_url: str) -> None:
    url = f"{base_url}/?status=302&location=http://example.invalid/"
    assert _availability(http_client, url=url) == BAD
    assert _availability(http_client, url=url, expected_status=[302]) == GOOD


def test_connection_refused_is_a_bad_event(http_client: httpx.Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert _availability(http_client, url=f"http://127.0.0.1:{port}/health") == BAD


def test_response_slower_than_the_timeout_is_a_bad_event(http_client: httpx.Client, base_url: str) -> None:
    started = time.perf_counter()
    assert _availability(http_client, url=f"{base_url}/?delay=1.5", timeout="200ms") == BAD
    assert time.perf_counter() - started < 1.2
    assert _availability(http_client, url=f"{base_url}/?delay=0.1", timeout="1s") == GOOD


def test_whole_exchange_longer_than_the_timeout_is_bad(http_client: httpx.Client, base_url: str) -> None:
    # httpx times each phase; the probe also bounds the whole exchange (6s > the 5s default).
    def timed(*readings: float) -> Collected:
        return probe(
            http_client=http_client,
            config={"url": f"{base_url}/"},
            sli_kind="error_rate",
            threshold_ms=None,
            timer=_timer(*readings),
        )

    assert timed(100.0, 106.0) == BAD
    assert timed(100.0, 104.5) == GOOD


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0.250, GOOD), (0.300, GOOD), (0.3005, BAD), (1.0, BAD)],
)
def test_latency_judged_against_the_threshold(
    http_client: httpx.Client, base_url: str, elapsed: float, expected: Collected
) -> None:
    collected = probe(
        http_client=http_client,
        config={"url": f"{base_url}/"},
        sli_kind="latency",
        threshold_ms=300,
        timer=_timer(50.0, 50.0 + elapsed),
    )
    assert collected == expected


def test_latency_of_a_failed_request_is_bad_however_fast(http_client: httpx.Client, base_url: str) -> None:
    collected = probe(
        http_client=http_client,
        config={"url": f"{base_url}/?status=500"},
        sli_kind="latency",
        threshold_ms=300,
        timer=_timer(50.0, 50.001),
    )
    assert collected == BAD


def test_latency_without_threshold_is_a_collection_error(http_client: httpx.Client, base_url: str) -> None:
    with pytest.raises(CollectionError, match="threshold_ms"):
        probe(http_client=http_client, config={"url": f"{base_url}/"}, sli_kind="latency", threshold_ms=None)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "url is not set"),
        ({"url": "http://127.0.0.1/", "timeout": "soon"}, "invalid timeout"),
        ({"url": "http://127.0.0.1/", "method": "DELETE"}, "method"),
        ({"url": "http://127.0.0.1/", "expected_status": []}, "expected_status"),
    ],
)
def test_unusable_config_is_a_collection_error(
    http_client: httpx.Client, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(CollectionError, match=message):
        probe(http_client=http_client, config=config, sli_kind="error_rate", threshold_ms=None)
