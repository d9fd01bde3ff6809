"""`mlslo serve` on the embedded Postgres stops that Postgres when it is stopped with SIGTERM.

uvicorn ends its process with the signal that stopped it, after a graceful shutdown, so exit
handlers never run: the service releases the embedded server during its own shutdown instead."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MLSLO = Path(sys.executable).parent / "mlslo"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sigterm_stops_the_service_and_its_embedded_postgres() -> None:
    # Outside pytest's private temp dirs: the embedded server runs as another user.
    data_dir = Path(tempfile.mkdtemp(prefix="mlslo-serve-"))
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MLSLO_")} | {
        "MLSLO_DATA_DIR": str(data_dir),
        "MLSLO_PORT": str(port),
        "MLSLO_EVALUATION_INTERVAL_SECONDS": "3600",
    }
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen([str(MLSLO), "serve"], env=environment, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, (data_dir / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        postmaster = data_dir / "postgres" / "postmaster.pid"
        assert postmaster.exists()

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

        deadline = time.monotonic() + 15
        while postmaster.exists():
            assert time.monotonic() < deadline, "the embedded Postgres is still running"
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)
