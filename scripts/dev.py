#!/usr/bin/env python3
"""Set-up and entry point for a fresh clone, needing only Python 3.11+:

    python3 scripts/dev.py demo [--json]   # the service with its demo scenario (embedded Postgres)
    python3 scripts/dev.py test [args]     # the test suite (starts its own Postgres)

Both create `.venv` and install the project into it on first use, and again whenever
pyproject.toml changes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".install-stamp"


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (this script runs on whatever python3 is)
        sys.exit(f"mlslo needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print("creating .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    print("installing mlslo and its dependencies into .venv", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    STAMP.write_text(wanted)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "mlslo"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = sys.argv[1], sys.argv[2:]
    ensure_environment()
    if command == "test":
        argv = [str(BIN / "python"), "-m", "pytest", *args]
    elif command == "demo":
        argv = [str(BIN / "mlslo"), "demo", *args]
    else:
        argv = [str(BIN / "mlslo"), *args]
    return subprocess.run(argv, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
