"""A real Prometheus for tests: exact data backfilled with promtool, then served on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def require_prometheus() -> None:
    """Fail under CI (which installs Debian's prometheus), skip elsewhere, when it is missing."""
    missing = [tool for tool in ("prometheus", "promtool") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed (apt-get install prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class PrometheusData:
    root: Path
    tsdb: Path
    config: Path


def backfill(root: Path, openmetrics: str, *, max_block_duration: str | None = None) -> PrometheusData:
    """Write the OpenMetrics text into a new TSDB under `root` with promtool."""
    require_prometheus()
    data_file, tsdb, config = root / "data.om.txt", root / "tsdb", root / "prometheus.yml"
    data_file.write_text(openmetrics)
    config.write_text("global:\n  scrape_interval: 15s\n")
    options = [f"--max-block-duration={max_block_duration}"] if max_block_duration else []
    result = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", *options, str(data_file), str(tsdb)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return PrometheusData(root=root, tsdb=tsdb, config=config)


def start(data: PrometheusData, port: int) -> subprocess.Popen[str]:
    """Start Prometheus on the TSDB and wait until it is ready."""
    log = (data.root / "prometheus.log").open("a")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={data.config}",
            f"--storage.tsdb.path={data.tsdb}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited: {(data.root / 'prometheus.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return process
        except httpx.RequestError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("prometheus was not ready within 60 s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(data: PrometheusData) -> Iterator[str]:
    """A running Prometheus on the data; yields its base URL."""
    port = free_port()
    process = start(data, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
