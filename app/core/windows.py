"""Good/total counts over a time window, combined as a ratio of sums."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

# The windows every evaluation computes: the Workbook's alert windows plus the SLO period itself.
ALERT_WINDOWS: tuple[timedelta, ...] = (
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=3),
)


class WindowMeasure(Protocol):
    """What burn-rate rules read of a window: its error ratio (bad events or bad slices over all)
    and how many events or slices it counted."""

    @property
    def total(self) -> int: ...

    @property
    def error_ratio(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Valid and good events counted over one window."""

    good: int
    total: int

    def __post_init__(self) -> None:
        if self.total < 0 or self.good < 0:
            raise ValueError("counts must not be negative")
        if self.good > self.total:
            raise ValueError(f"good events ({self.good}) exceed total events ({self.total})")

    @property
    def bad(self) -> int:
        return self.total - self.good

    @property
    def good_ratio(self) -> float | None:
        """The SLI: good / total, or None when the window saw no events."""
        return self.good / self.total if self.total else None

    @property
    def error_ratio(self) -> float | None:
        return self.bad / self.total if self.total else None


def window_label(window: timedelta) -> str:
    """Short, stable label for a window: 5m, 1h, 3d, 30d."""
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


MAX_DURATION_SECONDS = 100 * 366 * 86400


def parse_window(text: str) -> timedelta:
    """Parse '5m', '1h', '28d', '2w' into a timedelta; raises ValueError on anything else."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"invalid duration {text!r}: expected a whole number followed by s, m, h, d or w")
    if not text[:-1].isascii():
        raise ValueError(f"invalid duration {text!r}: expected ASCII digits")
    amount = int(text[:-1])
    if amount <= 0:
        raise ValueError(f"invalid duration {text!r}: must be positive")
    seconds = amount * units[text[-1]]
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"invalid duration {text!r}: longer than 100 years")
    return timedelta(seconds=seconds)
