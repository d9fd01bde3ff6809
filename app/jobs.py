"""What a scheduled job runs with, and how jobs declare their schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from app.clock import Clock
from app.config import Settings
from app.db import SessionFactory


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    session_factory: SessionFactory
    clock: Clock
    http_client: httpx.Client


@dataclass(frozen=True)
class ScheduledJob:
    """A job and its schedule, declared next to the code it runs."""

    id: str
    run: Callable[[JobContext], object]
    interval_seconds: Callable[[Settings], float]
