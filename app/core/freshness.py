"""Freshness: how old the last successful run is at the end of each time slice."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from app.core.exclusions import EPOCH


def slice_ends(start: datetime, end: datetime, slice_length: timedelta) -> list[datetime]:
    """Ends of the epoch-aligned slices that lie wholly inside [start, end]."""
    first = start + (-(start - EPOCH)) % slice_length
    ends = []
    moment = first + slice_length if first == start else first
    while moment <= end:
        if moment - slice_length >= start:
            ends.append(moment)
        moment += slice_length
    return ends


def ages_at(successes: Iterable[datetime], ends: Sequence[datetime]) -> dict[datetime, float]:
    """Seconds from the latest success at or before each slice end to that end; infinity when none
    is known (a job that has not succeeded within the lookback is stale)."""
    ordered = sorted(successes)
    ages = {}
    for end in ends:
        index = bisect.bisect_right(ordered, end)
        ages[end] = math.inf if index == 0 else (end - ordered[index - 1]).total_seconds()
    return ages
